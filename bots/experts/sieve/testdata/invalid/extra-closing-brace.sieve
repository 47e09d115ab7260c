if comment == "x" { drop }}
