if source.ip << '10.0.0.0/33' { drop }
