// Package kv is an example br2k service built to be tested under faults (see
// the jepsen package): registers that can be read, written and
// compared-and-set; a bank whose transfers must conserve the total; and an
// onlyonce side effect whose runs can be counted afterwards.
package kv

import (
	"math"
	"net/http"
	"time"

	"github.com/br2k/br2k"
)

//go:generate go run github.com/br2k/br2k/cmd/br2kgen

// Error codes of the service, besides br2k's own.
const (
	// CodeCASMismatch (409) says a compare-and-set found another value (or
	// no value): it certainly did not change the register.
	CodeCASMismatch = "CAS_MISMATCH"
	// CodeAccountExists (409): an account to open is already open.
	CodeAccountExists = "ACCOUNT_EXISTS"
	// CodeNoSuchAccount (404): a transfer names an account that is not open.
	CodeNoSuchAccount = "NO_SUCH_ACCOUNT"
	// CodeInsufficientFunds (409): the source account has less than the amount.
	CodeInsufficientFunds = "INSUFFICIENT_FUNDS"
	// CodeNoEffects (503): the replica was started without an effects log.
	CodeNoEffects = "NO_EFFECTS"
)

// Store is the replicated state of the service.
//
//br2k:state
type Store struct {
	// Values are the registers, by key.
	Values map[string]string `json:"values"`
	// Accounts are the bank's balances, by account id.
	Accounts map[string]uint64 `json:"accounts"`

	// effects performs the onlyonce side effect. It is a dependency, not
	// state: each replica has its own.
	effects Effects `br2k:"-"`
}

// Effects performs an external side effect once per call, the way a notary
// or a payment gateway would. Run is called by an onlyonce handler, on the
// leader only; it returns the effect's sequence number on this replica.
type Effects interface {
	Run(ctx *br2k.Ctx, id string) (seq uint64, err error)
}

// New returns an empty store whose side effects effects performs (nil: the
// effect route answers 503 NO_EFFECTS).
func New(effects Effects) *Store {
	return &Store{Values: map[string]string{}, Accounts: map[string]uint64{}, effects: effects}
}

// KeyIn names a register (a path parameter).
type KeyIn struct {
	Key string `json:"key"`
	// Panic makes the handler panic inside its read section (the fault
	// suite checks that a panicking handler changes nothing and releases
	// the state).
	Panic bool `json:"panic,omitempty"`
}

// boom is the fault suite's panic: a real runtime error (a nil map
// write), not a panic(string).
func boom() {
	var m map[string]int
	m["boom"]++
}

// Register is a register's value; Found is false when it was never written.
type Register struct {
	Value string `json:"value"`
	Found bool   `json:"found"`
}

// Read returns a register. It runs once, on the leader, after the leader has
// applied everything committed before the call: the read is linearizable.
//
//br2k:onlyonce GET /kv/{key}
func (s *Store) Read(ctx *br2k.Ctx, in KeyIn) (Register, error) {
	return br2k.Read(ctx, func() (Register, error) {
		v, ok := s.Values[in.Key]
		if in.Panic {
			boom()
		}
		return Register{Value: v, Found: ok}, nil
	})
}

// WriteIn sets register Key (a path parameter) to Value.
type WriteIn struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	// Panic makes the handler panic after it set the register: the
	// runtime must undo the write on every replica.
	Panic bool `json:"panic,omitempty"`
}

// Write sets a register and returns it.
//
//br2k:replicate PUT /kv/{key}
func (s *Store) Write(ctx *br2k.Ctx, in WriteIn) (Register, error) {
	s.Values[in.Key] = in.Value
	if in.Panic {
		boom()
	}
	return Register{Value: in.Value, Found: true}, nil
}

// CASIn sets register Key (a path parameter) to To if it holds From.
type CASIn struct {
	Key  string `json:"key"`
	From string `json:"from"`
	To   string `json:"to"`
	// Panic makes the handler panic after a successful compare-and-set.
	Panic bool `json:"panic,omitempty"`
}

// CAS compares and sets a register. A register that was never written
// matches no From. A mismatch is 409 CAS_MISMATCH, a definite failure: the
// register did not change.
//
//br2k:replicate POST /kv/{key}/cas
func (s *Store) CAS(ctx *br2k.Ctx, in CASIn) (Register, error) {
	v, ok := s.Values[in.Key]
	if !ok {
		return Register{}, br2k.Conflict(CodeCASMismatch, "register %q was never written, not %q", in.Key, in.From)
	}
	if v != in.From {
		return Register{}, br2k.Conflict(CodeCASMismatch, "register %q is %q, not %q", in.Key, v, in.From)
	}
	s.Values[in.Key] = in.To
	if in.Panic {
		boom()
	}
	return Register{Value: in.To, Found: true}, nil
}

// OpenIn opens Accounts, each with Balance.
type OpenIn struct {
	Accounts []string `json:"accounts"`
	Balance  uint64   `json:"balance"`
}

// Bank is every account's balance and their total.
type Bank struct {
	Accounts map[string]uint64 `json:"accounts"`
	Total    uint64            `json:"total"`
}

// Open opens accounts with an initial balance, all or none: if one is open
// already it is 409 ACCOUNT_EXISTS. It returns the whole bank.
//
//br2k:replicate POST /bank/open
func (s *Store) Open(ctx *br2k.Ctx, in OpenIn) (Bank, error) {
	if len(in.Accounts) == 0 {
		return Bank{}, br2k.Invalid("accounts must not be empty")
	}
	total, _ := s.total()
	for _, id := range in.Accounts {
		if id == "" {
			return Bank{}, br2k.Invalid("account ids must not be empty")
		}
		if _, ok := s.Accounts[id]; ok {
			return Bank{}, br2k.Conflict(CodeAccountExists, "account %q is open already", id)
		}
		if total > math.MaxUint64-in.Balance {
			return Bank{}, br2k.Invalid("balances would overflow")
		}
		total += in.Balance
		// Set before the next id is checked, so a list naming an account
		// twice fails (and the runtime undoes the whole call).
		s.Accounts[id] = in.Balance
	}
	return s.bank(), nil
}

// TransferIn moves Amount from one account to another.
type TransferIn struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Amount uint64 `json:"amount"`
	// Panic makes the handler panic between the debit and the credit: the
	// bank's total breaks unless the runtime undoes the debit.
	Panic bool `json:"panic,omitempty"`
}

// TransferOut has both balances after a transfer.
type TransferOut struct {
	From uint64 `json:"from_balance"`
	To   uint64 `json:"to_balance"`
}

// Transfer moves money between two open accounts; the total never changes.
//
//br2k:replicate POST /bank/transfer
func (s *Store) Transfer(ctx *br2k.Ctx, in TransferIn) (TransferOut, error) {
	if in.Amount == 0 {
		return TransferOut{}, br2k.Invalid("amount must be positive")
	}
	if in.From == in.To {
		return TransferOut{}, br2k.Invalid("from and to must differ")
	}
	from, ok := s.Accounts[in.From]
	if !ok {
		return TransferOut{}, br2k.NotFound(CodeNoSuchAccount, "account %q is not open", in.From)
	}
	to, ok := s.Accounts[in.To]
	if !ok {
		return TransferOut{}, br2k.NotFound(CodeNoSuchAccount, "account %q is not open", in.To)
	}
	if from < in.Amount {
		return TransferOut{}, br2k.Conflict(CodeInsufficientFunds, "account %q has %d, needs %d", in.From, from, in.Amount)
	}
	// No overflow check on the credit: balances sum to the total, which
	// Open keeps below 2^64.
	s.Accounts[in.From] = from - in.Amount
	if in.Panic {
		boom()
	}
	s.Accounts[in.To] = to + in.Amount
	return TransferOut{From: from - in.Amount, To: to + in.Amount}, nil
}

// BankIn is the empty input of Balances.
type BankIn struct{}

// Balances returns every account's balance, read linearizably on the leader.
//
//br2k:onlyonce GET /bank
func (s *Store) Balances(ctx *br2k.Ctx, in BankIn) (Bank, error) {
	return br2k.Read(ctx, func() (Bank, error) {
		return s.bank(), nil // a copy: the state's map must not leave the section
	})
}

// EffectIn names an effect (a path parameter).
type EffectIn struct {
	ID string `json:"id"`
	// HoldMillis delays the answer by that many milliseconds (at most
	// 10000) after the effect ran: a fault test uses it to kill the leader
	// between the effect and the logging of its outcome.
	HoldMillis int `json:"hold_ms,omitempty"`
	// Panic makes the handler panic in a read section before the effect
	// runs: the effect must not happen, and the state must be released.
	Panic bool `json:"panic,omitempty"`
}

// EffectOut says where and when an effect ran.
type EffectOut struct {
	ID      string `json:"id"`
	Replica string `json:"replica"` // the replica that ran it (the leader)
	Term    int64  `json:"term"`    // that replica's leadership term
	Seq     uint64 `json:"seq"`     // the effect's sequence number on that replica
}

// Effect performs the side effect named by the id once. Retried with the same
// Idempotency-Key it returns the first outcome instead of running again.
//
//br2k:onlyonce POST /effects/{id}
func (s *Store) Effect(ctx *br2k.Ctx, in EffectIn) (EffectOut, error) {
	if in.ID == "" {
		return EffectOut{}, br2k.Invalid("id must not be empty")
	}
	if in.HoldMillis < 0 || in.HoldMillis > 10000 {
		return EffectOut{}, br2k.Invalid("hold_ms must be in [0, 10000]")
	}
	if in.Panic {
		ctx.Read(func() { boom() })
	}
	if s.effects == nil {
		return EffectOut{}, br2k.NewError(http.StatusServiceUnavailable, CodeNoEffects, "this replica has no effects log configured")
	}
	seq, err := s.effects.Run(ctx, in.ID)
	if err != nil {
		return EffectOut{}, err
	}
	if in.HoldMillis > 0 {
		t := time.NewTimer(time.Duration(in.HoldMillis) * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Context().Done():
			t.Stop()
		}
	}
	e := ctx.Entry()
	return EffectOut{ID: in.ID, Replica: e.Subject.ID, Term: e.Term, Seq: seq}, nil
}

// bank copies the balances, so that the answer does not alias the state.
func (s *Store) bank() Bank {
	b := Bank{Accounts: make(map[string]uint64, len(s.Accounts))}
	b.Total, _ = s.total()
	for id, v := range s.Accounts {
		b.Accounts[id] = v
	}
	return b
}

// total sums the balances; ok is false on overflow, which Open prevents.
// Open keeps the total below overflow, so the loop never stops early and
// its order does not matter.
func (s *Store) total() (sum uint64, ok bool) {
	for _, v := range s.Accounts { //br2k:any-order
		if sum > math.MaxUint64-v {
			return sum, false
		}
		sum += v
	}
	return sum, true
}
