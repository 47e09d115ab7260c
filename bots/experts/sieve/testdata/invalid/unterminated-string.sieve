if comment == 'unterminated { drop }
