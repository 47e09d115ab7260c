if classification.type == 'scanner' {
  add comment = 'branch if'
} elif classification.type == 'phishing' {
  add comment = 'branch elif 1'
} elif source.port == 443 {
  add comment = 'branch elif 2'
} else {
  add comment = 'branch else'
}
if :exists nothing.here {
  path 'never'
} else {
  add! extra.else_ran = true
}
if feed.name == 'Recent' {}
elif feed.name == 'Example Feed' { add! extra.elif_after_empty = true }
