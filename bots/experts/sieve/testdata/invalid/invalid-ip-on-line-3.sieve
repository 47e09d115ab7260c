if source.ip << '10.0.0.0/8' { drop }
if comment == 'x' { add! extra.y = 'z' }
if source.ip == '300.1.1.1' { keep }
