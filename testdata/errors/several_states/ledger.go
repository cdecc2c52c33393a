package several

//br2k:state
type Ledger struct{}

//br2k:state
type Bank struct{}
