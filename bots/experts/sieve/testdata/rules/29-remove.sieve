remove comment
remove source.port
remove extra.flag
remove not.a.field
if :exists extra.nested { remove extra }
