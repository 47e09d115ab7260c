if comment === 'x' { drop }
