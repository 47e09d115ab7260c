if comment == 'a' {
  if comment == 'b' {
    add extra.x = 'y'
  }
  add extra.z
}
