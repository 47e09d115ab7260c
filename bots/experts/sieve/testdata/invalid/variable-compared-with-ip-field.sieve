$v = source.ip
if source.ip == $v { drop }
