if event_description.text =~ '^\w+ \w+$' { add! extra.u1 = 'words' }
if event_description.text :contains 'straße' { add! extra.u2 = 'ß' }
if extra.tags :overlaps ['ß'] { add! extra.u3 = '✓ ünïcödé' }
if comment =~ '\d' { add! extra.u4 = true }
