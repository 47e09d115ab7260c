if source.port == 22 { add! extra.n1 = true }
if source.port != 22 { add! extra.n2 = true }
if source.port < 1024 { add! extra.n3 = true }
if source.port <= 22 { add! extra.n4 = true }
if source.port > 22 { add! extra.n5 = true }
if source.port >= 443 { add! extra.n6 = true }
if feed.accuracy == 90 { add! extra.n7 = true }
if feed.accuracy < 90.5 { add! extra.n8 = true }
if source.asn >= 64496 && source.asn <= 64511 { add! extra.n9 = 'documentation asn' }
if destination.port == 80.0 { add! extra.n10 = true }
if source.geolocation.latitude > -1e3 { add! extra.n11 = true }
