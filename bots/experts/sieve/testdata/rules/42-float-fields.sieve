if feed.accuracy == 90.0 { add! extra.f1 = true }
if feed.accuracy == '90' { add! extra.f2 = true }
if feed.accuracy =~ '^90\.0$' { add! extra.f3 = true }
if source.geolocation.longitude :contains '.' { add! extra.f4 = true }
