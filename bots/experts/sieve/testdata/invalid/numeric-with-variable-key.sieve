if $k == 1 { drop }
