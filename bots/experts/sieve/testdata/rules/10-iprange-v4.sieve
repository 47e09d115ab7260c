if source.ip << '10.0.0.0/8' {
  path 'rfc1918'
} elif source.ip << ['172.16.0.0/12', '192.168.0.0/16'] {
  path 'rfc1918'
}
if source.ip << '192.0.2.0/255.255.255.0' { add! extra.testnet1 = true }
if source.ip << '198.51.100.99/0.0.0.255' { add! extra.testnet2 = true }
if source.ip << '192.0.2.1' { add! extra.exact = true }
if source.ip << '0.0.0.0/0' { add! extra.any_v4 = true }
if destination.ip << '10.1.2.3/8' { add! extra.dst_private = true }
