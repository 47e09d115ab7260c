if extra.tags :setequals ['scan', 'ssh', 'ssh'] { add! extra.s1 = true }
if extra.tags :overlaps ['phish', 'ssh'] { add! extra.s2 = true }
if extra.tags :subsetof ['ssh', 'scan', 'brute'] { add! extra.s3 = true }
if extra.tags :supersetof ['ssh'] { add! extra.s4 = true }
if extra.tags :supersetof [] { add! extra.s5 = true }
if extra.tags :setequals [1.0, 2, true] { add! extra.s6 = true }
if extra.tags :overlaps [] { add! extra.s7 = true }
if extra.tags :subsetof [] { add! extra.s8 = true }
