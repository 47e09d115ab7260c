if :exists source.ip {
  if source.ip << '10.0.0.0/8' {
    add comment = 'private'
    if source.port > 1000 {
      drop
    }
  } else {
    if :exists extra.tags {
      if extra.tags :overlaps ['ssh'] { path 'ssh' keep }
      add! extra.nested_reached = true
    }
  }
  add! extra.after_nested = true
}
