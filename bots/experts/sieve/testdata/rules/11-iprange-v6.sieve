if source.ip << '2001:db8::/32' { add! extra.v6_doc = true }
if destination.ip << ['fe80::/10', 'fc00::/7'] { add! extra.v6_local = true }
if source.ip << '::/0' { add! extra.any_v6 = true }
// An IPv4 address is never in an IPv6 network, mapped or not.
if source.ip << '::ffff:0:0/96' { add! extra.mapped = true }
if source.ip << '2001:DB8:0:0:0:0:0:1/128' { add! extra.exact_v6 = true }
