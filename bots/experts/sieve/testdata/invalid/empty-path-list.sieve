if :exists comment { path [] }
