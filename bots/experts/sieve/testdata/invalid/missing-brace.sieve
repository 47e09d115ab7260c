if :exists source.ip {
  drop
