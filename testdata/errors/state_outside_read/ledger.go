package outside

import "github.com/br2k/br2k"

//br2k:state
type Ledger struct {
	Accounts map[string]int `json:"accounts"`
	Mints    []int          `json:"mints"`

	notary Notary `br2k:"-"`
}

type Notary interface {
	Issue(s string) (string, error)
}

type In struct {
	ID string `json:"id"`
}

func (l *Ledger) balance(id string) int { return l.Accounts[id] }

func (l *Ledger) refresh() {}

func audit(l *Ledger) {}

// reader has a Read method that is not a read section.
type reader struct{}

func (reader) Read(f func()) { f() }

//br2k:onlyonce GET /a
func (l *Ledger) A(ctx *br2k.Ctx, in In) (int, error) { return l.Accounts[in.ID], nil }

//br2k:onlyonce GET /b
func (l *Ledger) B(ctx *br2k.Ctx, in In) (int, error) { return l.balance(in.ID), nil }

//br2k:onlyonce GET /c
func (l *Ledger) C(ctx *br2k.Ctx, in In) (int, error) {
	audit(l)
	var n int
	f := func() { n = len(l.Mints) }
	ctx.Read(f)
	ctx.Read(l.refresh)
	reader{}.Read(func() { n += len((l).Mints) })
	return n, nil
}

//br2k:onlyonce GET /d
func (l *Ledger) D(ctx *br2k.Ctx, in In) (int, error) {
	n, err := br2k.Read(ctx, func() (int, error) { return l.Accounts[in.ID], nil })
	if err != nil || l.notary == nil {
		return 0, err
	}
	go func() { l.Mints = nil }()
	return n + len(l.Mints), nil
}

// A replicated handler is not checked: it runs with the state locked.
//
//br2k:replicate POST /e
func (l *Ledger) E(ctx *br2k.Ctx, in In) (int, error) {
	l.Accounts[in.ID]++
	return l.balance(in.ID), nil
}
