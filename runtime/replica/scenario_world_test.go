package replica_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/br2k/br2k/example/kv"
	"github.com/br2k/br2k/internal/syncbuf"
	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/httpx"
	rlog "github.com/br2k/br2k/runtime/log"
	"github.com/br2k/br2k/runtime/log/memlog"
	"github.com/br2k/br2k/runtime/peer"
	"github.com/br2k/br2k/runtime/replica"
)

// world is the replicas of one scenario and their in-memory cluster.
type world struct {
	t       *testing.T
	ctx     context.Context // ends with the test
	cluster *memlog.Cluster
	secret  []byte
	nodes   map[string]*scenarioNode
	calls   map[string]chan string
	terms   map[int64]string // term → its label, by order of election
	refuse  sync.Map         // replica id → true: its leader probe finds the leader's port refusing

	mu      sync.Mutex
	holds   []holdSpec   // armed
	held    chan *heldOp // held, not yet printed
	waiting []*heldOp    // printed, not yet released
}

type scenarioNode struct {
	id      string
	conn    *memlog.Conn
	rep     *replica.Replica
	effects *countingEffects
	peer    *httptest.Server
	logs    *syncbuf.Buffer
	cancel  context.CancelFunc
	done    chan error
	alive   bool
}

// countingEffects counts the effect runs of one replica, by effect id.
type countingEffects struct {
	mu   sync.Mutex
	runs map[string]uint64
}

func (e *countingEffects) Run(ctx *runtime.Ctx, id string) (uint64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.runs[id]++
	return e.runs[id], nil
}

type holdSpec struct {
	response bool
	at       uint64
	kind     string
}

type heldOp struct {
	response bool
	a        memlog.Attempt
	err      error       // the append's result, for a held response
	decide   chan string // "pass" or "lose"
}

func newWorld(t *testing.T) *world {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	w := &world{t: t, ctx: ctx, cluster: memlog.New(), secret: []byte("scenario-secret-0123456789abcdef"),
		nodes: map[string]*scenarioNode{}, calls: map[string]chan string{}, terms: map[int64]string{}, held: make(chan *heldOp, 16)}
	w.cluster.GateElections()
	w.cluster.BeforeAppend(func(ctx context.Context, a memlog.Attempt) error {
		if h := w.hold(false, a, nil); h != nil {
			switch <-h.decide {
			case "lose":
				return memlog.ErrInjected
			case "nospace":
				return rlog.ErrNoSpace
			case "hang":
				// What etcd does with a proposal lost while its raft
				// leadership moves: nothing, until the request's
				// context ends.
				<-ctx.Done()
				return ctx.Err()
			}
		}
		return nil
	})
	w.cluster.AfterAppend(func(ctx context.Context, a memlog.Attempt, err error) error {
		if h := w.hold(true, a, err); h != nil {
			switch <-h.decide {
			case "lose":
				return memlog.ErrInjected
			case "nospace":
				// etcd's quota applier writes the transaction, then
				// reports NOSPACE for it.
				if err == nil {
					return rlog.ErrNoSpace
				}
			}
		}
		return err
	})
	t.Cleanup(func() {
		// Let held appends go (lost), stop the replicas, end the calls.
		w.mu.Lock()
		w.holds = nil
		w.mu.Unlock()
		for drained := false; !drained; {
			select {
			case h := <-w.held:
				h.decide <- "lose"
			default:
				drained = true
			}
		}
		for _, h := range w.waiting {
			select {
			case h.decide <- "lose":
			default:
			}
		}
		for _, nd := range w.nodes {
			if nd.alive {
				nd.cancel()
				<-nd.done
				nd.peer.Close()
			}
		}
		cancel()
		if t.Failed() {
			for _, nd := range w.nodes {
				t.Logf("logs of %s:\n%s", nd.id, nd.logs.String())
			}
		}
	})
	return w
}

// hold holds the attempt if an armed hold matches it, and returns it.
func (w *world) hold(response bool, a memlog.Attempt, err error) *heldOp {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, s := range w.holds {
		if s.response != response || (s.at != 0 && s.at != a.First()) {
			continue
		}
		if s.kind != "" && !slices.ContainsFunc(a.Entries, func(e *runtime.Entry) bool { return e.Kind.String() == s.kind }) {
			continue
		}
		w.holds = slices.Delete(w.holds, i, i+1)
		h := &heldOp{response: response, a: a, err: err, decide: make(chan string, 1)}
		w.held <- h
		return h
	}
	return nil
}

func (w *world) fatalf(format string, args ...any) {
	w.t.Helper()
	w.t.Fatalf(format, args...)
}

func (w *world) node(id string) *scenarioNode {
	nd := w.nodes[id]
	if nd == nil {
		w.fatalf("no replica %q", id)
	}
	return nd
}

// run runs one command and returns its output.
func (w *world) run(cmd string) string {
	w.t.Helper()
	f := strings.Fields(cmd)
	if len(f) == 0 {
		w.fatalf("empty command")
	}
	ctx, cancel := context.WithTimeout(w.ctx, 10*time.Second)
	defer cancel()
	switch f[0] {
	case "start":
		for _, id := range f[1:] {
			w.start(id)
		}
		for _, id := range f[1:] {
			if err := replica.WaitServing(ctx, w.node(id).rep); err != nil {
				w.fatalf("start %s: it did not catch up: %v", id, err)
			}
		}
		return "ok"
	case "elect":
		term, err := w.cluster.Elect(ctx, f[1])
		if err != nil {
			w.fatalf("elect %s: %v", f[1], err)
		}
		w.terms[term] = fmt.Sprintf("t%d", len(w.terms)+1)
		return fmt.Sprintf("%s leads %s", f[1], w.terms[term])
	case "call":
		return w.call(ctx, w.node(f[1]), cmd, f[2:])
	case "call-async":
		if len(f) < 5 {
			w.fatalf("%s: want call-async NAME REPLICA METHOD PATH", cmd)
		}
		nd, ch := w.node(f[2]), make(chan string, 1)
		w.calls[f[1]] = ch
		go func() { ch <- w.call(w.ctx, nd, cmd, f[3:]) }()
		return "ok"
	case "await":
		ch := w.calls[f[1]]
		if ch == nil {
			w.fatalf("no call %q", f[1])
		}
		select {
		case out := <-ch:
			if slices.Contains(f[2:], "-index") {
				out = indexInAnswer.ReplaceAllString(out, "")
			}
			return out
		case <-ctx.Done():
			w.fatalf("call %s did not end", f[1])
		}
	case "wait-queued":
		n, _ := strconv.Atoi(f[2])
		if err := replica.WaitQueued(ctx, w.node(f[1]).rep, n); err != nil {
			w.fatalf("%s: %v", cmd, err)
		}
		return "ok"
	case "hold":
		s := holdSpec{response: f[1] == "response"}
		for _, opt := range f[2:] {
			switch k, v, _ := strings.Cut(opt, "="); k {
			case "at":
				s.at, _ = strconv.ParseUint(v, 10, 64)
			case "kind":
				s.kind = v
			default:
				w.fatalf("%s: unknown option %q", cmd, opt)
			}
		}
		w.mu.Lock()
		w.holds = append(w.holds, s)
		w.mu.Unlock()
		return "ok"
	case "wait-held":
		select {
		case h := <-w.held:
			w.waiting = append(w.waiting, h)
			return w.describeHeld(h)
		case <-ctx.Done():
			w.fatalf("no append was held")
		}
	case "release":
		if len(w.waiting) == 0 {
			w.fatalf("release: nothing held (wait-held first)")
		}
		h := w.waiting[0]
		w.waiting = w.waiting[1:]
		h.decide <- f[1]
		return "ok"
	case "revoke", "depose":
		nd := w.node(f[1])
		li := w.cluster.Leader()
		if !strings.Contains(li.Value, fmt.Sprintf(`"id":%q`, nd.id)) {
			w.fatalf("%s: %s does not lead (%+v)", cmd, nd.id, li)
		}
		if f[0] == "revoke" {
			w.cluster.Revoke(li.Term)
		} else {
			w.cluster.Depose(li.Term)
		}
		return "ok"
	case "crash":
		nd := w.node(f[1])
		nd.conn.Crash()
		nd.cancel()
		<-nd.done
		nd.peer.Close()
		nd.alive = false
		return "ok"
	case "refuse":
		w.refuse.Store(w.node(f[1]).id, true)
		return "ok"
	case "accept":
		w.refuse.Delete(w.node(f[1]).id)
		return "ok"
	case "wait-suspects":
		li := w.cluster.Leader()
		want := f[1:]
		err := w.cluster.Wait(ctx, func() bool { return slices.Equal(w.cluster.Suspects(li.Term), want) })
		if err != nil {
			w.fatalf("%s: suspects of %s are %v", cmd, w.term(li.Term), w.cluster.Suspects(li.Term))
		}
		if len(want) == 0 {
			return w.term(li.Term) + " suspected by nobody"
		}
		return fmt.Sprintf("%s suspected by %s", w.term(li.Term), strings.Join(want, " "))
	case "wait-no-leader":
		if err := w.cluster.Wait(ctx, func() bool { return w.cluster.Leader().Term == 0 }); err != nil {
			w.fatalf("%s: the leader is still %+v", cmd, w.cluster.Leader())
		}
		return "no leader"
	case "expire":
		w.node(f[1]).conn.Expire()
		return "ok"
	case "restart":
		if w.node(f[1]).alive {
			w.fatalf("restart %s: it is running", f[1])
		}
		w.start(f[1])
		// A restarted replica serves once it caught up with the log.
		if err := replica.WaitServing(ctx, w.node(f[1]).rep); err != nil {
			w.fatalf("restart %s: it did not catch up: %v", f[1], err)
		}
		return "ok"
	case "sync":
		head := w.cluster.Head()
		for _, nd := range w.running() {
			if err := replica.WaitApplied(ctx, nd.rep, head); err != nil {
				w.fatalf("%s did not apply %d: %v", nd.id, head, err)
			}
		}
		return fmt.Sprintf("head %d", head)
	case "digest":
		var out []string
		for _, nd := range w.running() {
			applied, digest, err := replica.StateDigest(nd.rep)
			if err != nil {
				w.fatalf("digest of %s: %v", nd.id, err)
			}
			out = append(out, fmt.Sprintf("%s applied=%d digest=%s", nd.id, applied, digest[:12]))
		}
		return strings.Join(out, "\n")
	case "log":
		return w.printLog(ctx)
	case "effects":
		var out []string
		for _, id := range w.ids() {
			nd := w.nodes[id]
			nd.effects.mu.Lock()
			keys := make([]string, 0, len(nd.effects.runs))
			for k := range nd.effects.runs {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			var runs []string
			for _, k := range keys {
				runs = append(runs, fmt.Sprintf("%s×%d", k, nd.effects.runs[k]))
			}
			nd.effects.mu.Unlock()
			out = append(out, fmt.Sprintf("%s ran %s", id, strings.Join(append([]string{"nothing"}, runs...)[min(1, len(runs)):], " ")))
		}
		return strings.Join(out, "\n")
	}
	w.fatalf("unknown command %q", cmd)
	return ""
}

func (w *world) ids() []string {
	ids := make([]string, 0, len(w.nodes))
	for id := range w.nodes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (w *world) running() []*scenarioNode {
	var out []*scenarioNode
	for _, id := range w.ids() {
		if nd := w.nodes[id]; nd.alive {
			out = append(out, nd)
		}
	}
	return out
}

// start starts a replica id with empty state on a new connection and waits
// until it joined the roster.
func (w *world) start(id string) {
	w.t.Helper()
	nd := &scenarioNode{id: id, conn: w.cluster.Connect(id), effects: &countingEffects{runs: map[string]uint64{}}, logs: &syncbuf.Buffer{}}
	if old := w.nodes[id]; old != nil {
		nd.effects, nd.logs = old.effects, old.logs // counted per replica id, across restarts
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		w.fatalf("%v", err)
	}
	nd.peer = httptest.NewUnstartedServer(nil)
	nd.peer.Listener.Close()
	nd.peer.Listener = ln
	auth, err := peer.NewAuth(id, w.secret)
	if err != nil {
		w.fatalf("%v", err)
	}
	rep, err := replica.New(kv.NewService(kv.New(nd.effects)), replica.Options{
		ID: id, AdvertiseURL: "http://" + id + ".invalid", PeerURL: "http://" + ln.Addr().String(), PeerAuth: auth,
		Log: nd.conn.Log(), Election: nd.conn.Election(), Roster: nd.conn.Roster(),
		LeaderProbe: time.Millisecond, RequestTimeout: 5 * time.Second,
		Logger: testLogger(nd.logs).With("node", id),
	})
	if err != nil {
		w.fatalf("%v", err)
	}
	nd.rep = rep
	replica.SetProbe(rep, func(string, time.Duration) bool { _, ok := w.refuse.Load(id); return ok })
	nd.peer.Config.Handler = rep.PeerHandler()
	nd.peer.Start()
	runCtx, cancel := context.WithCancel(context.Background())
	nd.cancel, nd.done, nd.alive = cancel, make(chan error, 1), true
	w.nodes[id] = nd
	go func() { nd.done <- rep.Run(runCtx) }()
	ctx, cancel2 := context.WithTimeout(w.ctx, 10*time.Second)
	defer cancel2()
	if err := w.cluster.Wait(ctx, func() bool { return slices.Contains(w.cluster.Members(), id) }); err != nil {
		w.fatalf("%s did not join the roster: %v", id, err)
	}
}

var (
	termInBody    = regexp.MustCompile(`"term":(\d+)`)
	indexInAnswer = regexp.MustCompile(` index=\d+`)
)

// call sends METHOD PATH [key=K] [BODY] to nd's public handler and describes
// the answer: status, signal, index, replayed, body (terms as labels).
func (w *world) call(ctx context.Context, nd *scenarioNode, cmd string, args []string) string {
	if len(args) < 2 {
		w.t.Errorf("%s: want METHOD PATH [key=K] [BODY]", cmd)
		return ""
	}
	method, path, rest := args[0], args[1], args[2:]
	key, noIndex := "", false
	for len(rest) > 0 {
		if k, ok := strings.CutPrefix(rest[0], "key="); ok {
			key, rest = k, rest[1:]
		} else if rest[0] == "-index" {
			noIndex, rest = true, rest[1:]
		} else {
			break
		}
	}
	body := strings.Join(rest, " ")
	req := httptest.NewRequestWithContext(ctx, method, path, strings.NewReader(body))
	if key != "" {
		req.Header.Set(httpx.HeaderIdempotencyKey, key)
	}
	rec := httptest.NewRecorder()
	nd.rep.Handler().ServeHTTP(rec, req)
	resp := rec.Result()
	b, _ := io.ReadAll(resp.Body)
	out := strconv.Itoa(resp.StatusCode)
	if s := resp.Header.Get(httpx.HeaderSignal); s != "" {
		out += " signal=" + s
	}
	if i := resp.Header.Get(httpx.HeaderIndex); i != "" && !noIndex {
		out += " index=" + i
	}
	if resp.Header.Get(httpx.HeaderReplayed) == "true" {
		out += " replayed"
	}
	return out + " " + w.labelTerms(strings.TrimSpace(string(b)))
}

func (w *world) labelTerms(s string) string {
	return termInBody.ReplaceAllStringFunc(s, func(m string) string {
		n, _ := strconv.ParseInt(termInBody.FindStringSubmatch(m)[1], 10, 64)
		return `"term":` + w.term(n)
	})
}

func (w *world) term(n int64) string {
	if l, ok := w.terms[n]; ok {
		return l
	}
	return "t?" + strconv.FormatInt(n, 10)
}

func (w *world) describeHeld(h *heldOp) string {
	kind := "request"
	var fe *rlog.FencedError
	if h.response {
		kind = "response"
		switch {
		case h.err == nil:
			kind += " (committed)"
		case errors.As(h.err, &fe) && fe.Deposed:
			kind += fmt.Sprintf(" (fenced: deposed, head %d)", fe.Head)
		case errors.As(h.err, &fe):
			kind += fmt.Sprintf(" (fenced: head %d)", fe.Head)
		default:
			kind += fmt.Sprintf(" (refused: %v)", h.err)
		}
	}
	var ops []string
	for _, e := range h.a.Entries {
		ops = append(ops, describeEntry(e))
	}
	return fmt.Sprintf("held %s of %s for %d..%d in %s: %s", kind, h.a.Conn, h.a.First(), h.a.Last(), w.term(h.a.Fence.Term), strings.Join(ops, ", "))
}

func describeEntry(e *runtime.Entry) string {
	s := e.Kind.String() + " " + e.Op
	if e.Key != "" {
		s += " key=" + e.Key
	}
	return s
}

func (w *world) printLog(ctx context.Context) string {
	es, _, err := w.cluster.Connect("reader").Log().Read(ctx, 1, 0)
	if err != nil {
		w.fatalf("read the log: %v", err)
	}
	var out []string
	for _, e := range es {
		line := fmt.Sprintf("%d %s/%s %s %s", e.Index, w.term(e.Term), e.Subject.ID, describeEntry(e), e.Payload)
		if e.Result != nil {
			line += fmt.Sprintf(" => %d %s", e.Result.Status, w.labelTerms(string(e.Result.Body)))
		}
		out = append(out, line)
	}
	if len(out) == 0 {
		return "empty"
	}
	return strings.Join(out, "\n")
}
