# nothing but comments
// here
