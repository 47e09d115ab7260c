if source.url :containsany ['login', 'admin'] { add comment = 'credential page' }
if feed.name :containsany ['xyz', 'Feed'] { add! extra.feed_word = true }
if event_description.text :containsany ['straße', 'Straße'] { add! extra.german = true }
