if source.ip == '192.0.2.1' { add! extra.i1 = true }
if source.ip :in ['10.1.2.3', '2001:db8::1'] { add! extra.i2 = true }
if source.ip == '2001:DB8::1' { add! extra.i3 = 'not canonical' }
if source.ip != '192.0.2.1' { add! extra.i4 = true }
if destination.ip :containsany ['fe80::1'] { add! extra.i5 = true }
