// Package ledger is an example br2k service: the off-chain ledger of a token
// whose mints are approved off chain and anchored on chain. Accounts,
// transfers and mint approvals are replicated; balance queries and receipt
// issuing run once, on the leader.
package ledger

import (
	"net/http"
	"strconv"
	"time"

	"github.com/br2k/br2k"
)

//go:generate go run github.com/br2k/br2k/cmd/br2kgen

// Ledger is the replicated state of the service.
//
//br2k:state
type Ledger struct {
	Accounts map[string]*Account `json:"accounts"`
	Mints    []MintRequest       `json:"mints"`
	Supply   uint64              `json:"supply"`

	// notary issues receipts for approved mints. It is a dependency, not
	// state: each replica wires its own, and snapshots leave it alone.
	notary Notary `br2k:"-"`
}

// Account is one holder's balance.
type Account struct {
	ID      string    `json:"id"`
	Owner   string    `json:"owner"` // the holder's on-chain address
	Balance uint64    `json:"balance"`
	Opened  time.Time `json:"opened"`
}

// MintRequest asks for new tokens to be credited to an account.
type MintRequest struct {
	ID        uint64    `json:"id"`
	Account   string    `json:"account"`
	Amount    uint64    `json:"amount"`
	Approved  bool      `json:"approved"`
	Requested time.Time `json:"requested"`
	Ticket    string    `json:"ticket"` // random reference shown to the requester
}

// Receipt is what the notary issues for an approved mint.
type Receipt struct {
	Mint    uint64 `json:"mint"`
	Account string `json:"account"`
	Amount  uint64 `json:"amount"`
	Ref     string `json:"ref"` // the notary's reference (a transaction hash on chain)
}

// Notary issues receipts. Issuing is an external side effect, so the handler
// that calls it is onlyonce: it runs on one replica, once per request.
type Notary interface {
	Issue(ctx *br2k.Ctx, r Receipt) (ref string, err error)
}

// New returns an empty ledger whose receipts notary issues.
func New(notary Notary) *Ledger {
	return &Ledger{Accounts: map[string]*Account{}, notary: notary}
}

// OpenAccountIn opens an account.
type OpenAccountIn struct {
	ID    string `json:"id"`
	Owner string `json:"owner"`
}

// OpenAccount creates an empty account.
//
//br2k:replicate POST /accounts
func (l *Ledger) OpenAccount(ctx *br2k.Ctx, in OpenAccountIn) (Account, error) {
	if in.ID == "" {
		return Account{}, br2k.Invalid("id must not be empty")
	}
	if _, ok := l.Accounts[in.ID]; ok {
		return Account{}, br2k.Conflict("ACCOUNT_EXISTS", "account %q already exists", in.ID)
	}
	a := &Account{ID: in.ID, Owner: in.Owner, Opened: ctx.Now()}
	l.Accounts[in.ID] = a
	return *a, nil
}

// Bounds of one OpenAccounts call: what it adds to the state grows with
// their product.
const (
	MaxOpenAccounts = 100_000 // accounts
	MaxPrefixBytes  = 64      // of the id prefix
	MaxOwnerBytes   = 128     // of the owner
)

// OpenAccountsIn opens Count accounts at once, all held by Owner, with the
// ids Prefix followed by the decimal numbers First, First+1, ...: a range
// rather than a list, so that a call opening many accounts stays a small
// log entry.
type OpenAccountsIn struct {
	Prefix string `json:"prefix"`
	First  uint64 `json:"first"`
	Count  int    `json:"count"`
	Owner  string `json:"owner"`
}

// check bounds the range.
func (in OpenAccountsIn) check() error {
	if in.Count < 1 || in.Count > MaxOpenAccounts {
		return br2k.Invalid("count must be 1 to %d, got %d", MaxOpenAccounts, in.Count)
	}
	if len(in.Prefix) > MaxPrefixBytes || len(in.Owner) > MaxOwnerBytes {
		return br2k.Invalid("prefix must be at most %d bytes and owner at most %d, got %d and %d",
			MaxPrefixBytes, MaxOwnerBytes, len(in.Prefix), len(in.Owner))
	}
	if in.First+uint64(in.Count-1) < in.First {
		return br2k.Invalid("first %d + count %d overflows", in.First, in.Count)
	}
	return nil
}

// id is the id of the i-th account of the range.
func (in OpenAccountsIn) id(i int) string {
	return in.Prefix + strconv.FormatUint(in.First+uint64(i), 10)
}

// OpenAccountsOut says how many accounts a call opened, and the first and
// last of their ids.
type OpenAccountsOut struct {
	Opened int    `json:"opened"`
	First  string `json:"first"`
	Last   string `json:"last"`
}

// OpenAccounts opens a range of empty accounts (an operator onboarding
// users in bulk). It checks the whole range before it opens any: all of
// them are opened, or none.
//
//br2k:replicate POST /accounts/batch maxbody=4KiB
func (l *Ledger) OpenAccounts(ctx *br2k.Ctx, in OpenAccountsIn) (OpenAccountsOut, error) {
	if err := in.check(); err != nil {
		return OpenAccountsOut{}, err
	}
	for i := range in.Count {
		if id := in.id(i); l.exists(id) {
			return OpenAccountsOut{}, br2k.Conflict("ACCOUNT_EXISTS", "account %q already exists", id)
		}
	}
	now := ctx.Now()
	for i := range in.Count {
		id := in.id(i)
		l.Accounts[id] = &Account{ID: id, Owner: in.Owner, Opened: now}
	}
	return OpenAccountsOut{Opened: in.Count, First: in.id(0), Last: in.id(in.Count - 1)}, nil
}

// Absent is what the opening hooks keep: the ids a call may open that did
// not exist before it. Undoing a failed call closes them, which costs the
// accounts it opens, not a copy of every account.
type Absent []string

// BackupOpenAccount runs before OpenAccount and notes whether its account
// is new.
//
//br2k:backup OpenAccount
func (l *Ledger) BackupOpenAccount(in OpenAccountIn) Absent {
	return l.absent(1, func(int) string { return in.ID })
}

// RollbackOpenAccount closes the account again if OpenAccount fails or
// panics after opening it.
//
//br2k:rollback OpenAccount
func (l *Ledger) RollbackOpenAccount(a Absent) { l.close(a) }

// BackupOpenAccounts notes which accounts of the range are new.
//
//br2k:backup OpenAccounts
func (l *Ledger) BackupOpenAccounts(in OpenAccountsIn) Absent {
	if in.check() != nil {
		return nil // refused before anything changes
	}
	return l.absent(in.Count, in.id)
}

// RollbackOpenAccounts closes them again if OpenAccounts fails or panics.
//
//br2k:rollback OpenAccounts
func (l *Ledger) RollbackOpenAccounts(a Absent) { l.close(a) }

// absent returns those of the n ids id(0), ... id(n-1) that name no account.
func (l *Ledger) absent(n int, id func(int) string) Absent {
	var a Absent
	for i := range n {
		if s := id(i); !l.exists(s) {
			a = append(a, s)
		}
	}
	return a
}

func (l *Ledger) exists(id string) bool {
	_, ok := l.Accounts[id]
	return ok
}

func (l *Ledger) close(a Absent) {
	for _, id := range a {
		delete(l.Accounts, id)
	}
}

// TransferIn moves Amount tokens From one account To another.
type TransferIn struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Amount uint64 `json:"amount"`
}

// TransferOut has both balances after the transfer.
type TransferOut struct {
	From uint64 `json:"from_balance"`
	To   uint64 `json:"to_balance"`
}

// Transfer moves tokens between accounts.
//
//br2k:replicate POST /transfers
func (l *Ledger) Transfer(ctx *br2k.Ctx, in TransferIn) (TransferOut, error) {
	if in.Amount == 0 {
		return TransferOut{}, br2k.Invalid("amount must be positive")
	}
	from, err := l.account(in.From)
	if err != nil {
		return TransferOut{}, err
	}
	to, err := l.account(in.To)
	if err != nil {
		return TransferOut{}, err
	}
	if from.Balance < in.Amount {
		return TransferOut{}, br2k.Conflict("INSUFFICIENT_FUNDS", "account %q has %d, needs %d", in.From, from.Balance, in.Amount)
	}
	// No overflow check on the credit: balances sum to the supply, which
	// ApproveMint keeps below 2^64.
	from.Balance -= in.Amount
	to.Balance += in.Amount
	return TransferOut{From: from.Balance, To: to.Balance}, nil
}

// Saved is what the transfers' undo hooks keep: the balances of the
// accounts a call may change, as they were before it ran. Undoing a failed
// call costs what it touched, not a copy of every account.
type Saved []SavedBalance

// SavedBalance is one account's balance before a call.
type SavedBalance struct {
	ID      string `json:"id"`
	Balance uint64 `json:"balance"`
}

// BackupTransfer runs before Transfer and saves the two balances it changes.
//
//br2k:backup Transfer
func (l *Ledger) BackupTransfer(in TransferIn) Saved { return l.save(in) }

// RollbackTransfer puts them back if Transfer fails or panics.
//
//br2k:rollback Transfer
func (l *Ledger) RollbackTransfer(s Saved) { l.restore(s) }

// BackupTransferBatch saves the balances of every account in the batch.
//
//br2k:backup TransferBatch
func (l *Ledger) BackupTransferBatch(in BatchIn) Saved { return l.save(in.Transfers...) }

// RollbackTransferBatch puts them back if a transfer of the batch fails.
//
//br2k:rollback TransferBatch
func (l *Ledger) RollbackTransferBatch(s Saved) { l.restore(s) }

func (l *Ledger) save(ts ...TransferIn) Saved {
	s := make(Saved, 0, 2*len(ts))
	for _, t := range ts {
		for _, id := range []string{t.From, t.To} {
			if a, ok := l.Accounts[id]; ok {
				s = append(s, SavedBalance{ID: id, Balance: a.Balance})
			}
		}
	}
	return s
}

// restore goes backwards, so that an account saved twice ends with the
// balance it had first.
func (l *Ledger) restore(s Saved) {
	for i := len(s) - 1; i >= 0; i-- {
		if a, ok := l.Accounts[s[i].ID]; ok {
			a.Balance = s[i].Balance
		}
	}
}

// BatchIn is a list of transfers applied all or nothing (a payroll, an
// airdrop).
type BatchIn struct {
	Transfers []TransferIn `json:"transfers"`
}

// BatchOut has the balances after each transfer.
type BatchOut struct {
	Results []TransferOut `json:"results"`
}

// TransferBatch applies transfers in order. When one fails the handler
// returns its error as it stands, having already applied the ones before:
// its rollback hook puts the balances back, on every replica.
//
//br2k:replicate POST /transfers/batch
func (l *Ledger) TransferBatch(ctx *br2k.Ctx, in BatchIn) (BatchOut, error) {
	if len(in.Transfers) == 0 {
		return BatchOut{}, br2k.Invalid("transfers must not be empty")
	}
	out := BatchOut{Results: make([]TransferOut, 0, len(in.Transfers))}
	for i, t := range in.Transfers {
		r, err := l.Transfer(ctx, t)
		if err != nil {
			e := br2k.AsError(err)
			return BatchOut{}, br2k.NewError(e.Status, e.Code, "transfer %d: %s", i, e.Message)
		}
		out.Results = append(out.Results, r)
	}
	return out, nil
}

// RequestMintIn asks for Amount new tokens for account ID (a path parameter).
type RequestMintIn struct {
	ID     string `json:"id"`
	Amount uint64 `json:"amount"`
}

// RequestMint files a mint request for an account; it needs approval.
//
//br2k:replicate POST /accounts/{id}/mints maxbody=4KiB
func (l *Ledger) RequestMint(ctx *br2k.Ctx, in RequestMintIn) (MintRequest, error) {
	if _, err := l.account(in.ID); err != nil {
		return MintRequest{}, err
	}
	if in.Amount == 0 {
		return MintRequest{}, br2k.Invalid("amount must be positive")
	}
	m := MintRequest{
		ID:        uint64(len(l.Mints)) + 1,
		Account:   in.ID,
		Amount:    in.Amount,
		Requested: ctx.Now(),
		Ticket:    ticket(ctx),
	}
	l.Mints = append(l.Mints, m)
	return m, nil
}

// SavedMints is what RequestMint's undo hooks keep: the list of mint
// requests as it was (its slice header). RequestMint only appends, which
// leaves the requests already there as they were, so putting the header
// back undoes it, at no cost in the number of requests.
type SavedMints []MintRequest

// BackupRequestMint runs before RequestMint and keeps the list's header.
//
//br2k:backup RequestMint
func (l *Ledger) BackupRequestMint(in RequestMintIn) SavedMints { return l.Mints }

// RollbackRequestMint puts it back if RequestMint fails or panics.
//
//br2k:rollback RequestMint
func (l *Ledger) RollbackRequestMint(s SavedMints) { l.Mints = s }

// ticket draws a short random reference from the entry's seeded source, so
// every replica draws the same one.
func ticket(ctx *br2k.Ctx) string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 8)
	for i := range b {
		b[i] = alphabet[ctx.Rand().IntN(len(alphabet))]
	}
	return string(b)
}

// MintRef names a mint request by its id (a path parameter).
type MintRef struct {
	Mint uint64 `json:"mint"`
}

// ApproveMint credits an approved mint to its account.
//
//br2k:replicate POST /mints/{mint}/approve
func (l *Ledger) ApproveMint(ctx *br2k.Ctx, in MintRef) (MintRequest, error) {
	m, err := l.mint(in.Mint)
	if err != nil {
		return MintRequest{}, err
	}
	if m.Approved {
		return MintRequest{}, br2k.Conflict("ALREADY_APPROVED", "mint %d is already approved", in.Mint)
	}
	a, err := l.account(m.Account)
	if err != nil {
		return MintRequest{}, err
	}
	if a.Balance+m.Amount < a.Balance || l.Supply+m.Amount < l.Supply {
		return MintRequest{}, br2k.Conflict("BALANCE_OVERFLOW", "mint %d would overflow account %q or the supply", in.Mint, m.Account)
	}
	m.Approved = true
	a.Balance += m.Amount
	l.Supply += m.Amount
	return *m, nil
}

// SavedApproval is what ApproveMint's undo hooks keep: what it changes,
// as it was before it ran.
type SavedApproval struct {
	Mint     uint64 // the mint request (0: none, nothing to put back)
	Approved bool   // its flag
	Balance  Saved  // its account's balance
	Supply   uint64
}

// BackupApproveMint runs before ApproveMint and saves the mint's flag, its
// account's balance and the supply.
//
//br2k:backup ApproveMint
func (l *Ledger) BackupApproveMint(in MintRef) SavedApproval {
	s := SavedApproval{Supply: l.Supply}
	if m, err := l.mint(in.Mint); err == nil {
		s.Mint, s.Approved = in.Mint, m.Approved
		if a, ok := l.Accounts[m.Account]; ok {
			s.Balance = Saved{{ID: m.Account, Balance: a.Balance}}
		}
	}
	return s
}

// RollbackApproveMint puts them back if ApproveMint fails or panics.
//
//br2k:rollback ApproveMint
func (l *Ledger) RollbackApproveMint(s SavedApproval) {
	if m, err := l.mint(s.Mint); err == nil {
		m.Approved = s.Approved
	}
	l.restore(s.Balance)
	l.Supply = s.Supply
}

// BalanceIn names an account (a path parameter).
type BalanceIn struct {
	ID string `json:"id"`
}

// Balance returns an account. It only reads state, so it runs once.
//
//br2k:onlyonce GET /accounts/{id}
func (l *Ledger) Balance(ctx *br2k.Ctx, in BalanceIn) (Account, error) {
	return br2k.Read(ctx, func() (Account, error) {
		a, err := l.account(in.ID)
		if err != nil {
			return Account{}, err
		}
		return *a, nil // a copy: the pointer must not leave the section
	})
}

// IssueReceipt has the notary issue the receipt of an approved mint. The
// notary's side effect must happen once per request, so this is onlyonce;
// retried with the same Idempotency-Key it returns the first receipt.
//
// It reads the mint in a read section and copies what the receipt needs
// out of it; the notary, which may take its time, is called after the
// section, so that replication goes on meanwhile.
//
//br2k:onlyonce POST /mints/{mint}/receipt
func (l *Ledger) IssueReceipt(ctx *br2k.Ctx, in MintRef) (Receipt, error) {
	r, err := br2k.Read(ctx, func() (Receipt, error) {
		m, err := l.mint(in.Mint)
		if err != nil {
			return Receipt{}, err
		}
		if !m.Approved {
			return Receipt{}, br2k.Conflict("NOT_APPROVED", "mint %d is not approved", in.Mint)
		}
		return Receipt{Mint: m.ID, Account: m.Account, Amount: m.Amount}, nil
	})
	if err != nil {
		return Receipt{}, err
	}
	if l.notary == nil {
		return Receipt{}, br2k.NewError(http.StatusServiceUnavailable, "NO_NOTARY", "this replica has no notary configured")
	}
	ref, err := l.notary.Issue(ctx, r)
	if err != nil {
		return Receipt{}, err
	}
	r.Ref = ref
	return r, nil
}

func (l *Ledger) account(id string) (*Account, error) {
	a, ok := l.Accounts[id]
	if !ok {
		return nil, br2k.NotFound("NO_SUCH_ACCOUNT", "account %q does not exist", id)
	}
	return a, nil
}

func (l *Ledger) mint(id uint64) (*MintRequest, error) {
	if id == 0 || id > uint64(len(l.Mints)) {
		return nil, br2k.NotFound("NO_SUCH_MINT", "mint %d does not exist", id)
	}
	return &l.Mints[id-1], nil
}
