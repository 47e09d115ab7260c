if comment == '😀😀' && { drop }
