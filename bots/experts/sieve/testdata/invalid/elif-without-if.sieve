elif :exists comment { drop }
