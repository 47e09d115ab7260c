if source.ip :in ['10.0.0.1', 'example.com'] { drop }
