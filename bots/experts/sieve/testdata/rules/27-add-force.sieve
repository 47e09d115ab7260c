add! comment = 'replaced'
add! classification.type = 'BOTNET DRONE'
add! feed.accuracy = '75.5'
add! extra.flag = false
add! extra.tags = 'no longer a list'
// an ignored value removes the field
add! source.fqdn = ''
add! protocol.transport = '-'
