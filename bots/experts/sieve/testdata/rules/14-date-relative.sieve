if time.source :after '1 day' {
  add comment = 'fresh'
} elif time.source :after '52 weeks' {
  add comment = 'this year'
} else {
  add comment = 'old'
}
if time.source :before '2 hours' { add! extra.older_than_2h = true }
if time.source :after 'P1D' { add! extra.within_p1d = true }
if time.source :before 'now' { add! extra.past = true }
if time.source :after 'PT30M' { add! extra.within_30_minutes = true }
if time.observation :after '10 years' { add! extra.observed_recently = true }
