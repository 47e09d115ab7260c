if classification.type == 'scanner' { add! source.ip = 'not an address' }
if classification.type == 'phishing' { add! classification.type = 'no-such-type' }
if source.ip << '2001:db8::/32' { add! no_such_field = 'x' }
add! extra.ok = 'reached'
