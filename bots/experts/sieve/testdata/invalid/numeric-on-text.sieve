if comment > 5 { drop }
