IF :exists comment { drop }
