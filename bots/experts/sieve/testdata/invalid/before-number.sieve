if time.source :before 5 { drop }
