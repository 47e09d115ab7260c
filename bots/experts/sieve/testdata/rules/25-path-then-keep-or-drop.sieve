path 'first'
if classification.type == 'scanner' { keep }
path 'second'
if :exists source.url { drop }
path ['third', 'fourth']
