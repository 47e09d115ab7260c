if extra.tags :equals ['ssh', 'scan'] { path 'ssh-scan' }
if extra.tags :equals ['scan', 'ssh'] { add! extra.reversed = true }
if extra.tags :equals [1, 2, 1] { add! extra.numbers_with_bool = true }
if extra.tags :equals [] { add! extra.empty = true }
if comment :equals ['Hello World'] { add! extra.not_a_list = true }
