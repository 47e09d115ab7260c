# Twenty rules of the kinds operators write: filtering, routing, tagging (used by the benchmark).
if :notexists source.ip { path 'incomplete' keep }
if source.ip << ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '127.0.0.0/8'] { drop }
if feed.name :in ['Spam Feed', 'Old Feed', 'Test Feed'] { drop }
if classification.type == 'scanner' && source.port :in [22, 2222] { add classification.identifier = 'ssh-scanner' }
if classification.type == 'scanner' && source.port :in [23, 2323] { add classification.identifier = 'telnet-scanner' }
if classification.type :in ['phishing', 'malware-distribution'] { add! extra.severity = 'high' }
if classification.type == 'brute-force' || classification.type == 'ddos' { add! extra.severity = 'medium' }
if :exists source.url && source.url =~ '^https?://[^/]*(login|account|verify)' { append! extra.tags 'credential-phish' }
if :exists source.fqdn && source.fqdn =~ '\.(example|test|invalid)$' { path 'test-domains' keep }
if source.asn >= 64496 && source.asn <= 64511 { add comment = 'documentation ASN' }
if feed.accuracy < 50 { add! extra.low_confidence = true }
if destination.port == 80 || destination.port == 8080 { add protocol.application = 'http' }
if destination.port == 443 { add protocol.application = 'https' }
if source.ip << '2001:db8::/32' { path ['ipv6', '_default'] }
if extra.tags :overlaps ['whitelisted', 'allowlisted'] { drop }
if source.geolocation.cc :in ['AT', 'DE', 'CH'] { add! extra.constituency = 'dach' }
if :exists source.fqdn && source.fqdn :contains 'phish' { add! extra.phish_word = true }
if protocol.transport != 'tcp' && protocol.transport != 'udp' { add! extra.odd_transport = true }
if time.source :before '2000-01-01' { drop }
if classification.taxonomy == 'other' { add! extra.needs_review = true }
