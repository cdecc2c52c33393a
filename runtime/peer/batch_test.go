package peer

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/br2k/br2k/runtime/httpx"
)

func TestBatchedCallsRoundTripAndAMalformedBatchIsRefused(t *testing.T) {
	calls := []Call{
		{Method: "POST", URI: "/transfers", Body: []byte(`{"from":"a","to":"b","amount":1}`)},
		{Method: "PUT", URI: "/kv/a%2Fb?x=1", IdempotencyKey: "k-1", Body: nil},
	}
	var b []byte
	for _, c := range calls {
		b = AppendCall(b, c)
	}
	got, err := ReadCalls(b)
	if err != nil || len(got) != 2 {
		t.Fatalf("ReadCalls: %d calls, %v", len(got), err)
	}
	for i := range calls {
		if got[i].Method != calls[i].Method || got[i].URI != calls[i].URI || got[i].IdempotencyKey != calls[i].IdempotencyKey || !bytes.Equal(got[i].Body, calls[i].Body) {
			t.Errorf("call %d: %+v, want %+v", i, got[i], calls[i])
		}
	}
	var many []byte
	for range MaxBatchCalls + 1 {
		many = AppendCall(many, calls[0])
	}
	for _, tt := range []struct {
		name string
		body []byte
		want string
	}{
		{"empty", nil, "no call"},
		{"cut short", b[:len(b)-1], "call 1 of the batch is cut short"},
		{"a length past the end", []byte{0x7f, 'P'}, "call 0 of the batch is cut short at byte 0"},
		{"too many calls", many, fmt.Sprintf("at most %d calls", MaxBatchCalls)},
	} {
		if _, err := ReadCalls(tt.body); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want one saying %q", tt.name, err, tt.want)
		}
	}
}

// batchLeader is a leader's peer listener for batches: it answers each call
// with its own URI, in reverse order, after hold returns.
type batchLeader struct {
	requests, calls atomic.Int64
	hold            func()
}

func (l *batchLeader) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	calls, err := ReadCalls(body)
	if r.URL.Path != PathBatch || err != nil {
		http.Error(w, fmt.Sprintf("%s: %v", r.URL.Path, err), 400)
		return
	}
	l.requests.Add(1)
	l.calls.Add(int64(len(calls)))
	if l.hold != nil {
		l.hold()
	}
	var frames []byte
	for i := len(calls) - 1; i >= 0; i-- {
		a := httpx.Answer{Outcome: httpxOutcome(200, `"`+calls[i].URI+`"`), Index: uint64(i + 1), ServedBy: "r1"}
		rec := httptest.NewRecorder()
		httpx.WriteAnswer(rec, a)
		frames = AppendAnswerFrame(frames, i, rec.Code, rec.Header().Get, rec.Body.Bytes())
	}
	w.Write(frames)
}

func newBatchLeader(t *testing.T, l http.Handler) string {
	auth, _ := NewAuth("r1", secret)
	srv := httptest.NewServer(Authenticate(auth, 1<<20, slog.New(slog.DiscardHandler))(l))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestABatcherSendsCallsThatWaitTogetherAndGivesEachItsOwnAnswer: while
// BatchesInFlight batches are held by the leader, further calls wait and
// leave together; every call gets the answer of its own position, though
// the leader answers in another order.
func TestABatcherSendsCallsThatWaitTogetherAndGivesEachItsOwnAnswer(t *testing.T) {
	release := make(chan struct{})
	l := &batchLeader{hold: func() { <-release }}
	url := newBatchLeader(t, l)
	a, _ := NewAuth("r2", secret)
	b := NewBatcher(a, nil, time.Minute)
	defer b.Close()

	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			uri := fmt.Sprintf("/calls/%d", i)
			got, err := b.Forward(context.Background(), url, Call{Method: "POST", URI: uri, Body: []byte(`{}`)})
			if err != nil || string(got.Outcome.Body) != `"`+uri+`"` || got.ServedBy != "r1" {
				errs <- fmt.Errorf("%s: %+v, %v", uri, got, err)
			}
		})
		if i == 0 {
			time.Sleep(50 * time.Millisecond) // the first call leaves alone
		}
	}
	time.Sleep(200 * time.Millisecond) // every call is in a batch or queued
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if r, c := l.requests.Load(), l.calls.Load(); c != n || r > 2*BatchesInFlight {
		t.Errorf("%d calls in %d batch requests; want %d calls in at most %d", c, r, n, 2*BatchesInFlight)
	}
}

// TestABatchedCallThatGivesUpBeforeItsBatchLeavesIsNotDelivered: a call
// whose context ends while it waits for a batch leaves the queue, is never
// sent, and says so (safe to retry); one whose batch was sent says the
// outcome is unknown.
func TestABatchedCallThatGivesUpBeforeItsBatchLeavesIsNotDelivered(t *testing.T) {
	release := make(chan struct{})
	l := &batchLeader{hold: func() { <-release }}
	url := newBatchLeader(t, l)
	a, _ := NewAuth("r2", secret)
	b := NewBatcher(a, nil, time.Minute)
	defer b.Close()

	sent := make(chan error, BatchesInFlight)
	for i := range BatchesInFlight { // held by the leader
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		go func() {
			_, err := b.Forward(ctx, url, Call{Method: "POST", URI: fmt.Sprintf("/held/%d", i)})
			sent <- err
		}()
	}
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := b.Forward(ctx, url, Call{Method: "POST", URI: "/queued"}); !errors.Is(err, ErrNotDelivered) {
		t.Errorf("a call that gave up in the queue: err = %v, want ErrNotDelivered", err)
	}
	for range BatchesInFlight {
		if err := <-sent; err == nil || errors.Is(err, ErrNotDelivered) {
			t.Errorf("a call whose batch was held: err = %v, want an unknown outcome", err)
		}
	}
	close(release)
	time.Sleep(100 * time.Millisecond)
	if c := l.calls.Load(); c != BatchesInFlight {
		t.Errorf("the leader got %d calls, want the %d held ones only", c, BatchesInFlight)
	}
}

func TestABatchRefusedOrCutShortTellsEachCallWhetherItWasDelivered(t *testing.T) {
	a, _ := NewAuth("r2", secret)
	b := NewBatcher(a, nil, time.Minute)
	defer b.Close()
	call := Call{Method: "POST", URI: "/x"}

	stranger, _ := NewAuth("r9", []byte("a-different-secret-0123456789"))
	sb := NewBatcher(stranger, nil, time.Minute)
	defer sb.Close()
	url := newBatchLeader(t, &batchLeader{})
	if _, err := sb.Forward(context.Background(), url, call); !errors.Is(err, ErrNotDelivered) || !errors.Is(err, ErrCredentialsRefused) {
		t.Errorf("wrong secret: err = %v, want not delivered, credentials refused", err)
	}
	// The answer stops after one frame of two.
	cut := newBatchLeader(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		httpx.WriteAnswer(rec, httpx.Answer{Outcome: httpxOutcome(200, `1`), Index: 1})
		w.Write(AppendAnswerFrame(nil, 0, 200, rec.Header().Get, rec.Body.Bytes()))
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}))
	batch := []*queued{{call: call, done: make(chan forwardResult, 1)}, {call: call, done: make(chan forwardResult, 1)}}
	b.send(cut, batch)
	if res := <-batch[0].done; res.err != nil || string(res.a.Outcome.Body) != "1" {
		t.Errorf("the call answered before the cut: %+v, %v", res.a, res.err)
	}
	if res := <-batch[1].done; res.err == nil || errors.Is(res.err, ErrNotDelivered) {
		t.Errorf("the call not answered before the cut: err = %v, want an unknown outcome", res.err)
	}
}

func TestAnAnswerFrameOverTheBodyLimitIsAnError(t *testing.T) {
	frame := AppendAnswerFrame(nil, 0, 200, func(string) string { return "" }, bytes.Repeat([]byte("x"), 100))
	if _, err := readAnswerFrame(bufio.NewReader(bytes.NewReader(frame)), 1, 99); err == nil || !strings.Contains(err.Error(), "at most 99") {
		t.Errorf("err = %v, want the limit named", err)
	}
	if _, err := readAnswerFrame(bufio.NewReader(bytes.NewReader(frame)), 0, 1000); err == nil || !strings.Contains(err.Error(), "call 0 of a batch of 0") {
		t.Errorf("a position past the batch: err = %v", err)
	}
	f, err := readAnswerFrame(bufio.NewReader(bytes.NewReader(frame)), 1, 100)
	if err != nil || len(f.body) != 100 || f.status != 200 {
		t.Errorf("at the limit: %+v, %v", f, err)
	}
}
