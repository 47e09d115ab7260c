if source.port == 22 {
  add comment = 'ssh'
} elif source.port == 443 {
  path 'tls'
  keep
} elif :exists source.port {
  drop
} else {
  add! extra.no_port = true
}
add! extra.end = true
