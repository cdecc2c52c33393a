package inside

import "github.com/br2k/br2k"

//br2k:state
type Ledger struct {
	Accounts map[string]int `json:"accounts"`

	Printer  `br2k:"-"`
	notary   Notary            `br2k:"-"`
	notaries map[string]Notary `br2k:"-"`
	hook     func(string)      `br2k:"-"`
}

type Printer interface{ Print(s string) }

type Notary interface {
	Issue(s string) (string, error)
}

type In struct {
	ID string `json:"id"`
}

//br2k:onlyonce POST /a
func (l *Ledger) A(ctx *br2k.Ctx, in In) (string, error) {
	return br2k.Read(ctx, func() (string, error) {
		if l.Accounts[in.ID] == 0 {
			return "", nil
		}
		return l.notary.Issue(in.ID)
	})
}

//br2k:onlyonce POST /b
func (l *Ledger) B(ctx *br2k.Ctx, in In) (string, error) {
	var ref string
	var err error
	ctx.Read(func() {
		l.hook(in.ID)
		l.Print(in.ID)
		ctx.Read(func() { ref, err = l.notaries[in.ID].Issue(in.ID) })
	})
	if err != nil {
		return "", err
	}
	// Outside a section, calls through dependencies are what they are for.
	l.hook(ref)
	return l.notary.Issue(ref)
}
