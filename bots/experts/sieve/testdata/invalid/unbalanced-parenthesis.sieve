if (:exists comment { drop }
