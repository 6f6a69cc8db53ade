package auth

// CommonPasswordCount is the size of the embedded list, for its test.
func CommonPasswordCount() int { return len(commonPasswords()) }
