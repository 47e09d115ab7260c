if comment :contains ['a'] { drop }
