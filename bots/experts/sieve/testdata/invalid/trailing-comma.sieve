if comment :in ['a', ] { drop }
