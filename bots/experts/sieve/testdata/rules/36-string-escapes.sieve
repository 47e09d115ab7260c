if comment == 'it\'s' { add! extra.e1 = true }
add! extra.quoted = "say \"hi\""
add! extra.single = 'it\'s'
add! extra.backslash = 'a\\b\n'
if comment =~ 'Hello\sWorld' { add! extra.e2 = true }
add! extra.hash = '# not a comment // either'
