if source.network << '192.0.2.0/24' { add! extra.net = 'network field is not an address' }
if source.network == '192.0.2.0/24' { add! extra.net_text = true }
if source.network :contains '/24' { add! extra.net_contains = true }
