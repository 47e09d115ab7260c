add extra.step = 1
if classification.type == 'scanner' {
  keep
}
add! extra.step = 2
if :exists source.url { keep }
add! extra.step = 3
