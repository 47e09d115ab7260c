if :exists comment && { drop }
