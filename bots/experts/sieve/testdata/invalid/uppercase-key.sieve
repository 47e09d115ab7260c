if Source.ip == '10.0.0.1' { drop }
