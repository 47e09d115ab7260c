if extra.count == 5 { drop }
