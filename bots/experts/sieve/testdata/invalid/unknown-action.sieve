if :exists source.ip { discard }
