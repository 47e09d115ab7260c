append! extra.tags 'appended'
append! extra.count 4
append! extra.created true
append! extra.flag 1.5
append! extra.str 'x'
