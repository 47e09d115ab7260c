add! comment = [1, 2]
