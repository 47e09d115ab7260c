append extra.tags
