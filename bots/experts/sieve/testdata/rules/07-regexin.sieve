if source.fqdn :regexin ['^phish\.', '\.test$'] { path 'phishy' }
if comment :regexin ['^$', 'World$', 'nothing'] { add! extra.rx = 'comment' }
if feed.name :regexin ['(?i)^example'] { add! extra.rx2 = true }
