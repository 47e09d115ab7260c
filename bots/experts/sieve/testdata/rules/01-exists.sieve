# Existence tests decide between keep and drop.
if :exists source.fqdn {
  add comment = 'has fqdn'
  keep
}
if :notexists source.ip {
  path 'no-ip'
}
if :exists extra {
  add! event_description.text = 'has extra'
}
if :notexists extra.tags && :exists source.port {
  drop
}
