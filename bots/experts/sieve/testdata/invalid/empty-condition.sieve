if { drop }
