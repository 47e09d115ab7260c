# Windows line ends, tabs and comments everywhere
if	:exists source.ip # after condition
{ // opening
	add comment = "crlf"	# trailing
}
//if :exists source.ip { drop }
#drop
