add extra.order = 'first'
if :exists extra.order { add! extra.seen_own_change = true }
remove extra.order
if :notexists extra.order { add! extra.seen_removal = true }
add! comment = 'a'
update comment = 'b'
if comment == 'b' { path 'updated' }
