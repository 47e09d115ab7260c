if source.ip << '192.0.2.0/24' { path 'documentation' }
if :exists source.url { path "urls" }
