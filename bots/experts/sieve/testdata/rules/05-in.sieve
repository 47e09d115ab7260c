if classification.type :in ['scanner', 'phishing'] {
  path 'interesting'
} elif classification.type :in ['malware-distribution'] {
  path 'malware'
}
if source.port :in ['22', '443'] { add! extra.port_listed_as_text = true }
if extra.tags :in ['ssh'] { add! extra.list_in = true }
if feed.name :in ['Recent', 'Example Feed'] { add! extra.feed_known = true }
