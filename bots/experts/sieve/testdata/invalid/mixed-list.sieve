if source.port :in [22, '23'] { drop }
