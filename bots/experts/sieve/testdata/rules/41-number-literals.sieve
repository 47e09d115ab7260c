if source.port == +22 { add! extra.n1 = true }
if source.port > -1 { add! extra.n2 = true }
if feed.accuracy > .5 { add! extra.n3 = true }
if feed.accuracy < 1e2 { add! extra.n4 = true }
if source.port >= 22. { add! extra.n5 = true }
add! extra.leading_zeros = 007
add! extra.exponent = 25E-1
