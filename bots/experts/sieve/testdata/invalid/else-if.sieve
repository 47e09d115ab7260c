if :exists comment { drop } else if :exists source.ip { keep }
