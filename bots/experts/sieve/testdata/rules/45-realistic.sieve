# A realistic rules file: routing by type and network, tagging, cleanup.
if :notexists classification.type || :notexists source.ip {
  path 'incomplete'
  keep
}
if source.ip << ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'] {
  drop
}
if feed.name :in ['Spam Feed', 'Old Feed'] { drop }
if classification.type == 'scanner' {
  if source.port :in [22, 2222] {
    add classification.identifier = 'ssh-scanner'
  } elif source.port :in [23, 2323] {
    add classification.identifier = 'telnet-scanner'
  } else {
    add classification.identifier = 'scanner'
  }
  add! extra.severity = 'low'
} elif classification.type :in ['phishing', 'malware-distribution'] {
  add! extra.severity = 'high'
  if source.url =~ '^https?://[^/]*(login|account|verify)' { append! extra.tags 'credential-phish' }
} else {
  add! extra.severity = 'medium'
}
if :exists source.fqdn && source.fqdn =~ '\.(example|test)$' { path 'test-domains' keep }
if source.asn >= 64496 && source.asn <= 64511 { add! comment = 'documentation ASN' }
if feed.accuracy < 50 { remove extra.severity }
if time.source :before '2000-01-01' { drop }
if extra.tags :overlaps ['whitelisted', 'allowlisted'] { drop }
if destination.port == 80 || destination.port == 8080 { add protocol.application = 'http' }
if source.ip << '2001:db8::/32' { path ['ipv6', '_default'] }
update event_description.text = 'reviewed by sieve'
