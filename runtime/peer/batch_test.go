package peer

import (
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

func TestCallsAndAnswersSurviveTheirEncodingAndBadBatchesAreRefused(t *testing.T) {
	calls := []Call{
		{Method: "POST", URI: "/transfers", Body: []byte(`{"from":"a","to":"b","amount":1}`)},
		{Method: "POST", URI: "/accounts/a%2Fb/mints?x=1", IdempotencyKey: "k-1", Body: []byte{}},
	}
	got, err := DecodeCalls(EncodeCalls(calls), 2)
	if err != nil || len(got) != 2 {
		t.Fatalf("decode: %v, %v", got, err)
	}
	for i := range calls {
		if got[i].Method != calls[i].Method || got[i].URI != calls[i].URI || got[i].IdempotencyKey != calls[i].IdempotencyKey || string(got[i].Body) != string(calls[i].Body) {
			t.Errorf("call %d: %+v, want %+v", i, got[i], calls[i])
		}
	}
	enc := EncodeCalls(calls)
	for name, b := range map[string][]byte{
		"more calls than allowed": EncodeCalls(append(calls, calls[0])),
		"truncated":               enc[:len(enc)-3],
		"trailing bytes":          append(enc[:len(enc):len(enc)], 0),
		"empty":                   nil,
	} {
		if _, err := DecodeCalls(b, 2); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}

	answers := []WireAnswer{
		{Status: 200, Headers: []string{"", "7", "", "r1"}, Body: []byte("{\"from_balance\":1}\n")},
		{Status: 503, Headers: []string{httpx.SignalNotLeader.String(), "", "", ""}, Body: []byte(`{"code":"x"}`)},
		{Status: 200, Headers: []string{"", "3", "true", "r1"}, Body: []byte(`{}`)},
	}
	as, err := DecodeAnswers(EncodeAnswers(answers), 3)
	if err != nil {
		t.Fatal(err)
	}
	if as[0].Outcome.Status != 200 || string(as[0].Outcome.Body) != `{"from_balance":1}` || as[0].Index != 7 || as[0].ServedBy != "r1" {
		t.Errorf("answer 0: %+v", as[0])
	}
	if as[1].Signal != httpx.SignalNotLeader || !as[1].Retry() {
		t.Errorf("answer 1: %+v, want the not-leader signal", as[1])
	}
	if !as[2].Replayed || as[2].Index != 3 {
		t.Errorf("answer 2: %+v, want replayed at 3", as[2])
	}
	if _, err := DecodeAnswers(EncodeAnswers(answers), 2); err == nil {
		t.Error("3 answers for 2 calls decoded")
	}
	bad := EncodeAnswers([]WireAnswer{{Status: 200, Headers: []string{"no-such-signal", "", "", ""}}})
	if _, err := DecodeAnswers(bad, 1); err == nil {
		t.Error("an unknown signal decoded")
	}
}

// batchLeader is a leader's peer listener that answers each call of a batch
// with its body echoed and its position, and counts the batches. While
// hold is locked, batches wait.
type batchLeader struct {
	*httptest.Server
	hold    sync.Mutex
	batches atomic.Int32
	calls   atomic.Int32
}

func newBatchLeader(t *testing.T) *batchLeader {
	a, _ := NewAuth("r1", secret)
	l := &batchLeader{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathCalls, func(w http.ResponseWriter, r *http.Request) {
		l.hold.Lock()
		l.hold.Unlock()
		body, _ := io.ReadAll(r.Body)
		calls, err := DecodeCalls(body, MaxBatchCalls)
		if err != nil {
			t.Errorf("leader: %v", err)
			w.WriteHeader(400)
			return
		}
		l.batches.Add(1)
		l.calls.Add(int32(len(calls)))
		out := make([]WireAnswer, len(calls))
		for i, c := range calls {
			out[i] = WireAnswer{Status: 200, Headers: []string{"", fmt.Sprint(i + 1), "", "r1"}, Body: c.Body}
		}
		w.Write(EncodeAnswers(out))
	})
	mux.HandleFunc("POST /transfers", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		httpx.WriteAnswer(w, httpx.Answer{Outcome: httpxOutcome(200, string(body)), Index: 99, ServedBy: "r1"})
	})
	l.Server = httptest.NewServer(Authenticate(a, MaxBatchBytes, slog.New(slog.NewTextHandler(io.Discard, nil)))(mux))
	t.Cleanup(l.Close)
	return l
}

func TestCallsForwardedTogetherGetTheirOwnAnswers(t *testing.T) {
	l := newBatchLeader(t)
	a, _ := NewAuth("r2", secret)
	c := NewClient(a, nil)
	defer c.Close()

	// The first batch is held at the leader; the calls that come meanwhile
	// wait, and go together once it returns.
	l.hold.Lock()
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"n":%d}`, i)
			got, err := c.ForwardBatched(context.Background(), l.URL, Call{Method: "POST", URI: "/transfers", Body: []byte(body)})
			if err != nil {
				errs <- err
				return
			}
			if got.Outcome.Status != 200 || string(got.Outcome.Body) != body || got.ServedBy != "r1" {
				errs <- fmt.Errorf("call %d got %d %s", i, got.Outcome.Status, got.Outcome.Body)
			}
		}()
		if i == 0 {
			for !c.inflight(l.URL) {
				time.Sleep(time.Millisecond)
			}
		}
	}
	time.Sleep(50 * time.Millisecond)
	l.hold.Unlock()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if b, calls := l.batches.Load(), l.calls.Load(); calls != n || b >= n {
		t.Fatalf("%d calls in %d batches, want %d calls in fewer batches", calls, b, n)
	}
}

func TestABatchedCallThatNeverLeftIsNotDeliveredAndAnOldLeaderGetsCallsAlone(t *testing.T) {
	l := newBatchLeader(t)
	a, _ := NewAuth("r2", secret)
	c := NewClient(a, nil)
	defer c.Close()

	// One batch is out and held; a second call waits in the queue until
	// its context ends: it was never sent.
	l.hold.Lock()
	go c.ForwardBatched(context.Background(), l.URL, Call{Method: "POST", URI: "/transfers", Body: []byte(`{}`)})
	for l.batches.Load() == 0 && !c.inflight(l.URL) {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, err := c.ForwardBatched(ctx, l.URL, Call{Method: "POST", URI: "/transfers", Body: []byte(`{}`)})
	cancel()
	l.hold.Unlock()
	if !errors.Is(err, ErrNotDelivered) {
		t.Fatalf("a call cancelled in the queue: err = %v, want not delivered", err)
	}

	// A leader without PathCalls answers 404: the batch did not run, and
	// the calls after it go to that leader one at a time.
	old := newBatchLeader(t)
	old.Config.Handler = Authenticate(mustAuth("r1"), MaxBatchBytes, slog.New(slog.NewTextHandler(io.Discard, nil)))(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == PathCalls {
				http.NotFound(w, r)
				return
			}
			httpx.WriteAnswer(w, httpx.Answer{Outcome: httpxOutcome(200, `{"alone":true}`), Index: 5})
		}))
	call := Call{Method: "POST", URI: "/transfers", Body: []byte(`{}`)}
	if _, err := c.ForwardBatched(context.Background(), old.URL, call); !errors.Is(err, ErrNotDelivered) || !strings.Contains(err.Error(), "one at a time") {
		t.Fatalf("first call to an old leader: err = %v, want not delivered", err)
	}
	got, err := c.ForwardBatched(context.Background(), old.URL, call)
	if err != nil || string(got.Outcome.Body) != `{"alone":true}` || got.Index != 5 {
		t.Fatalf("second call to an old leader: %+v, %v", got, err)
	}
}

func mustAuth(id string) *Auth {
	a, err := NewAuth(id, secret)
	if err != nil {
		panic(err)
	}
	return a
}

// inflight reports whether a batch to leaderURL is out.
func (c *Client) inflight(leaderURL string) bool {
	c.bmu.Lock()
	defer c.bmu.Unlock()
	q := c.queues[leaderURL]
	return q != nil && q.inflight > 0
}
