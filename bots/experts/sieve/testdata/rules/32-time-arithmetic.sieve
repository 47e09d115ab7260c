update time.source += '1 hour'
if :exists time.observation { add! time.observation -= '2 days' }
update extra.missing += '1 day'
if :exists time.source { update time.source -= '30 seconds' }
// add never replaces: with the field present nothing happens
if :exists extra.when { add extra.when += '1 day' }
if feed.name == 'Phish Feed' { update extra.when += '1 week' }
if feed.name == 'Recent' { add! time.source += '10 years' }
