$name = feed.name
$type = classification.type
if feed.name == $name { add! extra.v1 = true }
if classification.type :in ['x', $type] { add! extra.v2 = true }
if comment :contains $name { add! extra.v3 = true }
add! extra.copied_name = $name
if :exists extra.field_name {
  $field = extra.field_name
  if :exists $field { add! extra.v4 = true }
  if $field == 'Hello World' { add! extra.v5 = true }
  if :notexists $field { add! extra.v6 = true }
}
if :exists source.port {
  $port = source.port
  if destination.port :in [$port] { add! extra.v7 = 'same port' }
  if destination.port :in [1, $port] { add! extra.v8 = true }
  if destination.port > $port { add! extra.v9 = true }
}
