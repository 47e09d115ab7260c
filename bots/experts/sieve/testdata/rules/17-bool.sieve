if extra.flag == true { add comment = 'flagged' }
if extra.flag != True { add comment = 'not flagged' }
if extra.flag == false { add! extra.b1 = 'false' }
if extra.count == true { add! extra.b2 = 'int is not bool' }
if extra.bool_str == true { add! extra.b3 = 'text is not bool' }
if extra.flag != false { add! extra.b4 = true }
