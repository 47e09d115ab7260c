if classification.type == 'scanner' {
  add comment = 'scanner'
}
if feed.name != 'Example Feed' {
  path 'other-feed'
}
// A missing field is never equal, and always unequal.
if source.fqdn != 'phish.example.com' {
  add! extra.fqdn_differs = true
}
if source.port == '22' {
  add! extra.port_text = true
}
if extra.count != '3' {
  add! extra.count_not_text = true
}
