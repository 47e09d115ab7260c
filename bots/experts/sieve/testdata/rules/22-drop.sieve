if classification.type == 'phishing' { drop }
if source.port == 443 { add comment = 'before drop' drop add! comment = 'unreachable' }
add! extra.survived = true
