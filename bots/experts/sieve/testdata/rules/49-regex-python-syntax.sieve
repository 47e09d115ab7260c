// Python regular expressions: $ also matches before a final newline, \Z does not.
if extra.text =~ 'abc$' { add! extra.p1 = true }
if extra.text =~ 'abc\Z' { add! extra.p2 = true }
if extra.text =~ '^[^\W\d]+\b' { add! extra.p3 = true }
if feed.name =~ '(?x) Example \  Feed  # verbose' { add! extra.p4 = true }
if feed.name =~ 'e{x' { add! extra.p5 = true }
if source.port =~ '\d{2,}' { add! extra.p6 = true }
if feed.name =~ '(?<=Example )Feed' { add! extra.p7 = true }
if extra.text =~ '(?i:ÜNÏ)' { add! extra.p8 = true }
if comment =~ '.' { add! extra.p9 = true }
if extra.text =~ '^\S+\s$' { add! extra.p10 = true }
if feed.name :regexin ['^(?!Example)', 'Feed$'] { add! extra.p11 = true }
