append extra.tags 'appended'
append extra.tags 7
append extra.new_list 'first'
// a value that is not a list is left alone
append comment 'ignored'
append extra.flag true
