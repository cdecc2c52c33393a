// Package jepsen tests br2k the way Jepsen tests databases: clients drive
// the example kv service (example/kv), run as a cluster of OS processes with
// their own embedded etcd members (internal/proccluster), while a nemesis
// SIGKILLs the leader and restarts it, SIGSTOPs and SIGCONTs replicas, and
// cuts replicas off and heals them. Every operation's invocation and
// completion go into a history, which checkers then judge: linearizability
// of the registers (porcupine), conservation of the bank's total,
// exactly-once effects, and convergence of the replicas after healing.
//
//	go test ./jepsen                                 # about 60s of faults; -short skips it
//	BR2K_JEPSEN_DURATION=10m go test ./jepsen -run Faults -timeout 30m -v
//	BR2K_JEPSEN_SEED=N go test ./jepsen -run Faults  # the same nemesis plan and client choices again
//	go test ./jepsen -run Replay -history FILE       # check a saved history again, offline
//
// A failing run saves its history (JSON lines, see Record: the seed and
// nemesis plan, every operation, every fault, the effects files' lines and
// the replicas' final statuses), the replicas' logs and porcupine's view of
// any register that is not linearizable under os.TempDir()/br2k-jepsen-TIME,
// and names that directory in the failure.
package jepsen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/br2k/br2k/example/kv"
)

// Outcome is what a client learnt about an operation.
type Outcome string

const (
	// OK: the operation took effect, and its answer is its output.
	OK Outcome = "ok"
	// Fail: the operation certainly did not take effect (a 4xx answer, a
	// CAS mismatch, a 503 saying nothing was ordered, a request never sent).
	Fail Outcome = "fail"
	// Unknown: the operation may or may not have taken effect, now or
	// later (a timeout, a lost connection, 503 BR2K_OUTCOME_UNKNOWN, a 5xx).
	Unknown Outcome = "unknown"
)

// Operation kinds.
const (
	KindRead     = "read"     // GET /kv/{key}
	KindWrite    = "write"    // PUT /kv/{key}
	KindCAS      = "cas"      // POST /kv/{key}/cas
	KindOpen     = "open"     // POST /bank/open
	KindTransfer = "transfer" // POST /bank/transfer
	KindBalances = "balances" // GET /bank
	KindEffect   = "effect"   // POST /effects/{id}
)

// Op is one operation: its invocation (Call) and completion (Return), in
// nanoseconds of the monotonic clock since the history began, and what the
// client learnt.
type Op struct {
	Client int    `json:"client"`
	Kind   string `json:"kind"`
	// Final marks the reads made after the faults were healed.
	Final bool `json:"final,omitempty"`
	// Panic marks a call whose handler was told to panic: it must leave no
	// effect.
	Panic bool   `json:"panic,omitempty"`
	Node  string `json:"node,omitempty"` // the replica the request was sent to

	// Registers: the key; the value written, or read (with Found).
	Key   string `json:"key,omitempty"`
	Value string `json:"value,omitempty"`
	Found bool   `json:"found,omitempty"`
	// CAS: From and To values. Transfer: From and To accounts, Amount.
	From   string `json:"from,omitempty"`
	To     string `json:"to,omitempty"`
	Amount uint64 `json:"amount,omitempty"`
	// Balances read, or opened.
	Balances map[string]uint64 `json:"balances,omitempty"`
	// Effect: the effect id (also the Idempotency-Key), the attempt (1 for
	// the first, more for retries with the same key), and where it ran per
	// the answer.
	Effect  string `json:"effect,omitempty"`
	Attempt int    `json:"attempt,omitempty"`
	Replica string `json:"replica,omitempty"`
	Term    int64  `json:"term,omitempty"`
	Seq     uint64 `json:"seq,omitempty"`

	Call    int64   `json:"call"`
	Return  int64   `json:"return"`
	Outcome Outcome `json:"outcome"`
	// The answer: HTTP status, error code and message (or the transport
	// error), and br2k's headers.
	Status   int    `json:"status,omitempty"`
	Code     string `json:"code,omitempty"`
	Error    string `json:"error,omitempty"`
	Index    uint64 `json:"index,omitempty"`
	ServedBy string `json:"served_by,omitempty"`
	Replayed bool   `json:"replayed,omitempty"`
}

// Nemesis actions.
const (
	ActKill      = "kill"      // SIGKILL a replica process (the leader)
	ActRestart   = "restart"   // start a killed replica again
	ActStop      = "stop"      // SIGSTOP a replica process
	ActCont      = "cont"      // SIGCONT it
	ActPartition = "partition" // cut a replica off from the others
	ActHeal      = "heal"      // restore every link
	// ActAwaitLeader is recorded, with its error, when no leader served
	// within the wait after a fault was healed.
	ActAwaitLeader = "await-leader"
)

// NemesisEvent is one fault injected or healed.
type NemesisEvent struct {
	Time   int64  `json:"time"` // ns since the history began
	Action string `json:"action"`
	Target string `json:"target,omitempty"` // a replica id
	Error  string `json:"error,omitempty"`
}

// Meta describes a run: what is needed to reproduce its schedule and to
// check its history.
type Meta struct {
	Seed     int64     `json:"seed"`
	Started  time.Time `json:"started"` // wall clock when the history began
	Duration string    `json:"duration"`
	Replicas int       `json:"replicas"`
	// Accounts opened for the bank workload, each with Balance.
	Accounts []string `json:"accounts,omitempty"`
	Balance  uint64   `json:"balance,omitempty"`
	// Schedule is the nemesis plan drawn from Seed.
	Schedule []Step `json:"schedule,omitempty"`
}

// NodeStatus is a replica's /br2k/status after the run, or why it could not
// be read.
type NodeStatus struct {
	ID          string `json:"id"`
	Applied     uint64 `json:"applied"`
	Head        uint64 `json:"head"`
	Digest      string `json:"digest"`
	DigestIndex uint64 `json:"digest_index"`
	// Version is the newest state version the replica wrote or loaded;
	// Diverged the version at which it found its state differs from the
	// majority's (0: never).
	Version  uint64 `json:"version,omitempty"`
	Diverged uint64 `json:"diverged,omitempty"`
	Error    string `json:"error,omitempty"`
}

// Record is one line of a history file: exactly one of its fields is set.
type Record struct {
	Meta      *Meta         `json:"meta,omitempty"`
	Op        *Op           `json:"op,omitempty"`
	Nemesis   *NemesisEvent `json:"nemesis,omitempty"`
	EffectRun *kv.EffectRun `json:"effect_run,omitempty"`
	Status    *NodeStatus   `json:"status,omitempty"`
	// Converge is the error of waiting for convergence ("" when the
	// replicas converged).
	Converge *string `json:"converge,omitempty"`
	// Crash describes a replica process that exited by itself.
	Crash *string `json:"crash,omitempty"`
}

// History is what a run observed. A History being recorded is safe for
// concurrent use through its methods; checkers read its fields after the run.
type History struct {
	Meta    Meta
	Ops     []Op
	Nemesis []NemesisEvent
	// EffectRuns are the lines of every replica's effects file.
	EffectRuns []kv.EffectRun
	// Statuses are the replicas' statuses after healing. ConvergeChecked
	// says the run got as far as waiting for convergence, and
	// ConvergeError why the replicas did not converge.
	Statuses        []NodeStatus
	ConvergeChecked bool
	ConvergeError   string
	// Crashes are the replica processes that exited without the nemesis
	// killing them (a panic the runtime did not contain, a fatal error),
	// each with the end of its log.
	Crashes []string

	start time.Time
	mu    sync.Mutex
}

// NewHistory starts a history now.
func NewHistory(meta Meta) *History {
	now := time.Now()
	meta.Started = now.UTC()
	return &History{Meta: meta, start: now}
}

// Now is the time since the history began, in nanoseconds of the monotonic
// clock.
func (h *History) Now() int64 { return int64(time.Since(h.start)) }

// Add records a completed operation.
func (h *History) Add(op Op) {
	h.mu.Lock()
	h.Ops = append(h.Ops, op)
	h.mu.Unlock()
}

// AddNemesis records a nemesis event stamped now.
func (h *History) AddNemesis(action, target string, err error) NemesisEvent {
	e := NemesisEvent{Time: h.Now(), Action: action, Target: target}
	if err != nil {
		e.Error = err.Error()
	}
	h.mu.Lock()
	h.Nemesis = append(h.Nemesis, e)
	h.mu.Unlock()
	return e
}

// Write writes the history as JSON lines: the meta first, then operations
// (by invocation) and nemesis events (by time), then effect runs and
// statuses.
func (h *History) Write(w io.Writer) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	ops := append([]Op(nil), h.Ops...)
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].Call < ops[j].Call })
	nem := append([]NemesisEvent(nil), h.Nemesis...)
	sort.SliceStable(nem, func(i, j int) bool { return nem[i].Time < nem[j].Time })
	if err := enc.Encode(Record{Meta: &h.Meta}); err != nil {
		return err
	}
	// Merge the two timelines so that the file reads in time order.
	i, j := 0, 0
	for i < len(ops) || j < len(nem) {
		var r Record
		if j == len(nem) || (i < len(ops) && ops[i].Call <= nem[j].Time) {
			r.Op = &ops[i]
			i++
		} else {
			r.Nemesis = &nem[j]
			j++
		}
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	for k := range h.EffectRuns {
		if err := enc.Encode(Record{EffectRun: &h.EffectRuns[k]}); err != nil {
			return err
		}
	}
	for k := range h.Statuses {
		if err := enc.Encode(Record{Status: &h.Statuses[k]}); err != nil {
			return err
		}
	}
	if h.ConvergeChecked {
		c := h.ConvergeError
		if err := enc.Encode(Record{Converge: &c}); err != nil {
			return err
		}
	}
	for k := range h.Crashes {
		if err := enc.Encode(Record{Crash: &h.Crashes[k]}); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// WriteFile writes the history to path.
func (h *History) WriteFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := h.Write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ReadHistory reads a history written by Write.
func ReadHistory(r io.Reader) (*History, error) {
	h := &History{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	sawMeta := false
	for n := 1; sc.Scan(); n++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var rec Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		switch {
		case rec.Meta != nil:
			h.Meta, sawMeta = *rec.Meta, true
		case rec.Op != nil:
			h.Ops = append(h.Ops, *rec.Op)
		case rec.Nemesis != nil:
			h.Nemesis = append(h.Nemesis, *rec.Nemesis)
		case rec.EffectRun != nil:
			h.EffectRuns = append(h.EffectRuns, *rec.EffectRun)
		case rec.Status != nil:
			h.Statuses = append(h.Statuses, *rec.Status)
		case rec.Converge != nil:
			h.ConvergeChecked, h.ConvergeError = true, *rec.Converge
		case rec.Crash != nil:
			h.Crashes = append(h.Crashes, *rec.Crash)
		default:
			return nil, fmt.Errorf("line %d: empty record", n)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if !sawMeta {
		return nil, fmt.Errorf("no meta record: not a history file")
	}
	return h, nil
}

// ReadHistoryFile reads a history file.
func ReadHistoryFile(path string) (*History, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h, err := ReadHistory(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return h, nil
}
