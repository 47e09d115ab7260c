if source.port == 1.2.3 { drop }
