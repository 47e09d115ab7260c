path _default
