path ['all', 'archive']
if classification.type == 'scanner' { path ['scanners', 'archive', '_default'] }
if :exists source.fqdn { path 'fqdn' }
