package jepsen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/br2k/br2k/example/kv"
	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/httpx"
)

const casMismatch = kv.CodeCASMismatch

// Client sends the kv service's operations to replicas and records each in
// a history, classified as ok, failed or unknown.
type Client struct {
	ID      int
	History *History
	HTTP    *http.Client
	// Timeout bounds one request; when it runs out the outcome is unknown.
	Timeout time.Duration
}

// answer is what came back for one request.
type answer struct {
	status   int
	body     []byte
	code     string
	msg      string
	index    uint64
	servedBy string
	replayed bool
	err      error // transport error
	sent     bool  // false when the request certainly never left
}

// do sends one request and reads the whole answer.
func (c *Client) do(ctx context.Context, method, nodeURL, path string, body any, key string) answer {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return answer{err: err}
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, nodeURL+path, rd)
	if err != nil {
		return answer{err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set(httpx.HeaderIdempotencyKey, key)
		// net/http silently resends a request with an Idempotency-Key
		// when a reused connection breaks; on a fresh connection it
		// does not, so every attempt the server sees is one in the
		// history.
		req.Close = true
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return answer{err: err, sent: !notSent(err)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, body: b, servedBy: resp.Header.Get(httpx.HeaderServedBy), replayed: resp.Header.Get(httpx.HeaderReplayed) == "true", sent: true}
	a.index, _ = strconv.ParseUint(resp.Header.Get(httpx.HeaderIndex), 10, 64)
	if err != nil {
		// The status came, the body did not: an error status would still
		// say enough, but a 200 without its body loses the read's value.
		a.err = err
		return a
	}
	if resp.StatusCode >= 300 {
		a.code, a.msg, _ = runtime.Outcome{Status: resp.StatusCode, Body: b}.DecodeError()
	}
	return a
}

// notSent reports whether a transport error means the request never reached
// a server: the connection could not be made.
func notSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// classify decides what an answer says about the operation's effect.
func classify(a answer) Outcome {
	if a.err != nil {
		if !a.sent {
			return Fail
		}
		return Unknown
	}
	switch {
	case a.status >= 200 && a.status < 300:
		return OK
	case a.code == runtime.CodeHandlerPanic:
		// The handler panicked: a replicated call was undone on every
		// replica. (An onlyonce handler keeps what it did before its
		// panic; kv's panic before doing anything.)
		return Fail
	case a.code == runtime.CodeOnlyOnceInterrupted:
		// A retry found the call started on a leader that was lost before
		// logging its outcome: the handler may have run.
		return Unknown
	case a.status >= 400 && a.status < 500:
		// Refused before or while running: decode errors, handler errors
		// (rolled back on every replica), idempotency mismatches.
		return Fail
	case a.status == http.StatusServiceUnavailable:
		switch a.code {
		case runtime.CodeNotLeader, runtime.CodeNoLeader, runtime.CodeUnavailable, runtime.CodeCatchingUp, runtime.CodeDiverged:
			return Fail // br2k says nothing was ordered
		}
	}
	// 503 BR2K_OUTCOME_UNKNOWN, 504, 500, a proxy's 502, a non-br2k answer.
	return Unknown
}

// finish fills op's completion from an answer and records it.
func (c *Client) finish(op *Op, a answer) Outcome {
	op.Return = c.History.Now()
	op.Outcome = classify(a)
	op.Status, op.Code, op.Index, op.ServedBy, op.Replayed = a.status, a.code, a.index, a.servedBy, a.replayed
	switch {
	case a.err != nil:
		op.Error = a.err.Error()
	case a.code != "":
		op.Error = a.msg
	}
	return op.Outcome
}

// decode reads an ok answer's body into v; a body that does not decode
// makes the outcome unknown (the operation may have happened; its output is
// lost).
func (c *Client) decode(op *Op, a answer, v any) {
	if op.Outcome != OK {
		return
	}
	if err := json.Unmarshal(a.body, v); err != nil {
		op.Outcome, op.Error = Unknown, fmt.Sprintf("decode %s: %v", a.body, err)
	}
}

// Read reads register key from node; with panic the handler panics in its
// read section.
func (c *Client) Read(ctx context.Context, node Node, key string, final, panic bool) Op {
	op := Op{Client: c.ID, Kind: KindRead, Key: key, Node: node.ID, Final: final, Panic: panic, Call: c.History.Now()}
	var body any
	if panic {
		body = kv.KeyIn{Panic: true}
	}
	a := c.do(ctx, http.MethodGet, node.URL, "/kv/"+url.PathEscape(key), body, "")
	if c.finish(&op, a) == OK {
		var r kv.Register
		c.decode(&op, a, &r)
		op.Value, op.Found = r.Value, r.Found
	}
	c.History.Add(op)
	return op
}

// Write writes value to register key through node; with panic the handler
// panics after it set the register.
func (c *Client) Write(ctx context.Context, node Node, key, value string, panic bool) Op {
	op := Op{Client: c.ID, Kind: KindWrite, Key: key, Value: value, Node: node.ID, Panic: panic, Call: c.History.Now()}
	a := c.do(ctx, http.MethodPut, node.URL, "/kv/"+url.PathEscape(key), kv.WriteIn{Value: value, Panic: panic}, "")
	c.finish(&op, a)
	c.History.Add(op)
	return op
}

// CAS sets register key to to if it holds from, through node. A mismatch is
// a failed operation with code CAS_MISMATCH. With panic the handler panics
// after a successful set.
func (c *Client) CAS(ctx context.Context, node Node, key, from, to string, panic bool) Op {
	op := Op{Client: c.ID, Kind: KindCAS, Key: key, From: from, To: to, Node: node.ID, Panic: panic, Call: c.History.Now()}
	a := c.do(ctx, http.MethodPost, node.URL, "/kv/"+url.PathEscape(key)+"/cas", kv.CASIn{From: from, To: to, Panic: panic}, "")
	c.finish(&op, a)
	c.History.Add(op)
	return op
}

// Open opens bank accounts with balance each.
func (c *Client) Open(ctx context.Context, node Node, accounts []string, balance uint64) Op {
	op := Op{Client: c.ID, Kind: KindOpen, Node: node.ID, Balances: map[string]uint64{}, Call: c.History.Now()}
	for _, a := range accounts {
		op.Balances[a] = balance
	}
	a := c.do(ctx, http.MethodPost, node.URL, "/bank/open", kv.OpenIn{Accounts: accounts, Balance: balance}, "")
	c.finish(&op, a)
	c.History.Add(op)
	return op
}

// Transfer moves amount between accounts through node; with panic the
// handler panics between the debit and the credit.
func (c *Client) Transfer(ctx context.Context, node Node, from, to string, amount uint64, panic bool) Op {
	op := Op{Client: c.ID, Kind: KindTransfer, From: from, To: to, Amount: amount, Node: node.ID, Panic: panic, Call: c.History.Now()}
	a := c.do(ctx, http.MethodPost, node.URL, "/bank/transfer", kv.TransferIn{From: from, To: to, Amount: amount, Panic: panic}, "")
	c.finish(&op, a)
	c.History.Add(op)
	return op
}

// Balances reads every balance through node.
func (c *Client) Balances(ctx context.Context, node Node, final bool) Op {
	op := Op{Client: c.ID, Kind: KindBalances, Node: node.ID, Final: final, Call: c.History.Now()}
	a := c.do(ctx, http.MethodGet, node.URL, "/bank", nil, "")
	if c.finish(&op, a) == OK {
		var b kv.Bank
		c.decode(&op, a, &b)
		op.Balances = b.Accounts
	}
	c.History.Add(op)
	return op
}

// Effect runs effect id through node, with id as the Idempotency-Key, as
// the attempt'th try. holdMillis delays the leader's answer after the effect
// ran (0 in workloads); with panic the handler panics before the effect.
func (c *Client) Effect(ctx context.Context, node Node, id string, attempt, holdMillis int, panic bool) Op {
	op := Op{Client: c.ID, Kind: KindEffect, Effect: id, Attempt: attempt, Node: node.ID, Panic: panic, Call: c.History.Now()}
	// The id travels in the path only.
	body := struct {
		HoldMillis int  `json:"hold_ms,omitempty"`
		Panic      bool `json:"panic,omitempty"`
	}{holdMillis, panic}
	a := c.do(ctx, http.MethodPost, node.URL, "/effects/"+url.PathEscape(id), body, id)
	if c.finish(&op, a) == OK {
		var out kv.EffectOut
		c.decode(&op, a, &out)
		op.Replica, op.Term, op.Seq = out.Replica, out.Term, out.Seq
	}
	c.History.Add(op)
	return op
}
