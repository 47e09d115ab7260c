drop
keep
}
