if classification.type == 'scanner' { path ['copy', 'copy', '_default'] }
if classification.type == 'phishing' { path '_default' }
if classification.type == 'spam' { path ['_default'] keep }
