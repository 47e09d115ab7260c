if source.ip << ['10.0.0.0/8', 'not-a-net'] { drop }
