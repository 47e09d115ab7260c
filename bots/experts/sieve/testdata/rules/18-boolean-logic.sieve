if classification.type == 'scanner' || classification.type == 'phishing' && source.port == 443 {
  add! extra.l1 = true
}
if (classification.type == 'scanner' || classification.type == 'phishing') && source.port == 443 {
  add! extra.l2 = true
}
if !(source.port == 22) { add! extra.l3 = true }
if ! :exists source.fqdn && ! source.ip << '10.0.0.0/8' { add! extra.l4 = true }
if ((:exists source.port)) { add! extra.l5 = true }
if !(!(:exists comment) || :exists extra.flag) { add! extra.l6 = true }
