if comment :contains 'World' { add! extra.c1 = 1 }
// non-strings are compared as Python's str(): numbers, booleans, lists
if source.port :contains '2' { add! extra.c2 = 1 }
if feed.accuracy :contains '.0' { add! extra.c3 = 1 }
if extra.tags :contains "'ssh'" { add! extra.c4 = 1 }
if extra.flag :contains 'True' { add! extra.c5 = 1 }
if extra.score :contains '2.5' { add! extra.c6 = 1 }
// extra as a whole is JSON text
if extra :contains '"tags": [' { add! extra.c7 = 1 }
if extra.nested :contains '"b": [1, 2]' { add! extra.c8 = 1 }
if source.fqdn :contains '' { add! extra.c9 = 1 }
