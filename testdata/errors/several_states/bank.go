package several

// Vault is a third state type, in another file.
//
//br2k:state
type Vault struct{}
