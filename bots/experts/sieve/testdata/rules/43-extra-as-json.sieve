if extra =~ '"flag": true' { add! comment = 'extra json' }
if extra.nested =~ '^\{"a": 1' { add! extra.j1 = true }
if extra.nested == '{"a": 1, "b": [1, 2]}' { add! extra.j2 = true }
if extra.list_of_dicts :contains "{'a': 1}" { add! extra.j3 = true }
