if source.ip :exists { drop }
