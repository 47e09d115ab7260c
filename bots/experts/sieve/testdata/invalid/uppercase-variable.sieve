$X = comment
