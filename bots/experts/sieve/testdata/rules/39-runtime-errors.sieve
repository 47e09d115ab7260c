if classification.type == 'scanner' { if source.port :containsany ['2'] { add comment = 'x' } }
if classification.type == 'phishing' { add source.port = 'not a port' }
if source.ip << '2001:db8::/32' { $v = source.fqdn }
if feed.name == 'Recent' { add time.source += '1 hour' }
if :exists extra.list_of_dicts { if extra.list_of_dicts :overlaps [1] {} }
if source.port == 2222 { $p = source.port if destination.port == $p {} }
if feed.name == 'Minimal' { if :exists $undefined {} }
