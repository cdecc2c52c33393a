// Package chain has *big.Int, time.Time, maps with integer and
// text-marshalled keys, an embedded field and fields that are not state.
package chain

import (
	"encoding/hex"
	"errors"
	"math/big"
	"net/netip"
	"time"

	"github.com/br2k/br2k"
)

// Addr is an account address; it is a JSON map key through its text methods.
type Addr [4]byte

// MarshalText writes the address in hex.
func (a Addr) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(a[:])), nil }

// UnmarshalText reads a hex address.
func (a *Addr) UnmarshalText(b []byte) error {
	n, err := hex.Decode(a[:], b)
	if err == nil && n != len(a) {
		err = errors.New("short address")
	}
	return err
}

// Client is a dependency: each replica has its own.
type Client interface{ Send(tx Tx) error }

// Base is embedded in the state; its fields are replicated.
type Base struct {
	Height uint64 `json:"height"`
	Tip    *Block `json:"tip"`
}

// Chain is the state.
//
//br2k:state
type Chain struct {
	Base
	Balances map[Addr]*big.Int      `json:"balances"`
	Supply   *big.Int               `json:"supply"`
	Blocks   map[uint64]Block       `json:"blocks"`
	Seen     map[int8]time.Time     `json:"seen"`
	Peers    map[netip.Addr]float64 `json:"peers"`
	Times    []time.Time            `json:"times"`
	Started  time.Time              `json:"started"`
	Fees     []*big.Int             `json:"fees"`

	client Client            `br2k:"-"`
	Cache  map[string]string `br2k:"-"` // exported, but a cache, not state
	Log    func(string)      `json:"-" br2k:"-"`
}

// Block is a block.
type Block struct {
	Number uint64
	Hash   Addr
	Time   time.Time
	Txs    []Tx
}

// Tx is a transfer.
type Tx struct {
	From, To Addr
	Value    *big.Int
}

// MineIn mines a block of one transfer.
type MineIn struct {
	From  Addr     `json:"from"`
	To    Addr     `json:"to"`
	Value *big.Int `json:"value"`
}

// Mine appends a block; an overdraft fails after the debit, to show the
// rollback.
//
//br2k:replicate POST /blocks
func (c *Chain) Mine(ctx *br2k.Ctx, in MineIn) (*big.Int, error) {
	if c.Balances == nil {
		c.Balances = map[Addr]*big.Int{}
	}
	from := c.Balances[in.From]
	if from == nil {
		from = new(big.Int)
		c.Balances[in.From] = from
	}
	from.Sub(from, in.Value)
	if from.Sign() < 0 {
		return nil, br2k.Conflict("OVERDRAFT", "balance would be %s", from)
	}
	c.Height++
	b := Block{Number: c.Height, Time: ctx.Now(), Txs: []Tx{{From: in.From, To: in.To, Value: in.Value}}}
	if c.Blocks == nil {
		c.Blocks = map[uint64]Block{}
	}
	c.Blocks[b.Number] = b
	c.Tip = &b
	return from, nil
}

// Grant credits an address out of thin air.
//
//br2k:replicate POST /grants
func (c *Chain) Grant(ctx *br2k.Ctx, in MineIn) (*big.Int, error) {
	if c.Balances == nil {
		c.Balances = map[Addr]*big.Int{}
	}
	to := c.Balances[in.To]
	if to == nil {
		to = new(big.Int)
		c.Balances[in.To] = to
	}
	to.Add(to, in.Value)
	if c.Supply == nil {
		c.Supply = new(big.Int)
	}
	c.Supply.Add(c.Supply, in.Value)
	return to, nil
}

// HeadIn is empty.
type HeadIn struct{}

// Head returns the last block.
//
//br2k:onlyonce GET /head
func (c *Chain) Head(ctx *br2k.Ctx, in HeadIn) (Block, error) {
	return br2k.Read(ctx, func() (Block, error) {
		if c.Tip == nil {
			return Block{}, br2k.NotFound("NO_BLOCKS", "no blocks yet")
		}
		return *c.Tip, nil // a mined block is never changed in place
	})
}
