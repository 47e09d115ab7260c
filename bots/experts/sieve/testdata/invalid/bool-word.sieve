if extra.flag == yes { drop }
