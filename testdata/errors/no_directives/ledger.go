// Package nodirs has no directives: "// br2k:state" with a space is not one
// (BR2K151 says so).
package nodirs

// Ledger would be the state.
//
// br2k:state
type Ledger struct{}
