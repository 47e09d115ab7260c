# textX reads keywords as prefixes: this is `if` + condition, and `keep` + `drop`.
ifsource.port==22{add! extra.k1=true}
if classification.type == 'phishing' { keepdrop }
add! extra.k2 = 1
