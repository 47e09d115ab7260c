if source.port :in [22, 23, 2222] {
  add comment = 'telnet or ssh'
} elif source.port :in [443, 8443.0] {
  add comment = 'tls'
} else {
  add comment = 'other port'
}
if feed.accuracy :in [90, 100] { add! extra.acc = true }
