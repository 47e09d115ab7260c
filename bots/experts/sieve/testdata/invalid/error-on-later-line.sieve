if :exists comment { drop }


   # fine so far
  if comment ~= 'x' { keep }
