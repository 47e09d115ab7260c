add comment == 'x'
