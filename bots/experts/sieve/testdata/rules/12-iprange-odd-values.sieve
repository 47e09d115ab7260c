// Values that are not addresses never match; integers are addresses in Python.
if extra.ip << '10.0.0.0/24' { add! extra.extra_ip = true }
if extra.str << '0.0.0.0/0' { add! extra.str_ip = true }
if source.asn << '0.0.0.0/0' { add! extra.asn_ip = true }
if extra.flag << '0.0.0.0/31' { add! extra.bool_ip = true }
if comment << '0.0.0.0/0' { add! extra.text_ip = true }
if ! source.ip << '192.0.2.0/24' { add! extra.outside = true }
