if :exists extra.nested {
  add! extra = '{"replaced": true, "n": [1, 2]}'
} elif :exists extra.flag {
  remove extra
  add extra = '{"fresh": "yes"}'
}
if :notexists extra { add! extra.none_left = 1 }
