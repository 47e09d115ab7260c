if source.ip =~ '^10\.' { drop }
