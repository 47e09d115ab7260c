if comment :in [] { drop }
