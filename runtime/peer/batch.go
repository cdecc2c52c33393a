package peer

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/br2k/br2k/runtime/httpx"
)

// Batched forwarding. Every forwarded call used to be an HTTP exchange of
// its own with the leader, and the leader's per-request server work was a
// third of the CPU of a cluster whose clients call any replica (perf, 64
// clients, two cores). A follower's small replicated calls therefore travel
// to the leader together: a Batcher keeps at most BatchesInFlight batch
// requests in flight per leader, and the calls that arrive meanwhile wait and
// leave in the next one (group commit: under load batches grow with the
// wait; idle, a call leaves at once, alone). The leader runs each call of a
// batch through the service's generated route, as it does a single forward,
// all at once, and streams each answer back as it comes.
//
// Request body (POST PathBatch, signed as a whole like any peer request):
// calls, each method, URI, Idempotency-Key and body as uvarint-length-prefixed
// strings. Answer body (200): one frame per call, in the order the calls
// end: its position in the batch, HTTP status, the httpx.AnswerHeaders
// values in that order, and the body, each uvarint or uvarint-length-prefixed.

// PathBatch is the leader's peer endpoint for a batch of forwarded calls.
const PathBatch = "/br2k/peer/batch"

// MaxBatchCalls bounds the calls in one batch.
const MaxBatchCalls = 256

// MaxBatchedBody is the largest body a call may have to travel in a batch;
// a larger one is forwarded alone.
const MaxBatchedBody = 64 << 10

// BatchesInFlight is how many batch requests a follower has in flight to
// the leader at once.
const BatchesInFlight = 2

// AppendCall appends c, encoded for a batch, to dst.
func AppendCall(dst []byte, c Call) []byte {
	for _, s := range [...]string{c.Method, c.URI, c.IdempotencyKey} {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	dst = binary.AppendUvarint(dst, uint64(len(c.Body)))
	return append(dst, c.Body...)
}

// ReadCalls decodes a batch request's body. The calls' bodies share b's
// memory.
func ReadCalls(b []byte) ([]Call, error) {
	var calls []Call
	for off := 0; off < len(b); {
		if len(calls) == MaxBatchCalls {
			return nil, fmt.Errorf("a batch holds at most %d calls", MaxBatchCalls)
		}
		var f [4][]byte
		for i := range f {
			n, w := binary.Uvarint(b[off:])
			if w <= 0 || n > uint64(len(b)-off-w) {
				return nil, fmt.Errorf("call %d of the batch is cut short at byte %d", len(calls), off)
			}
			off += w
			f[i] = b[off : off+int(n) : off+int(n)]
			off += int(n)
		}
		calls = append(calls, Call{Method: string(f[0]), URI: string(f[1]), IdempotencyKey: string(f[2]), Body: f[3]})
	}
	if len(calls) == 0 {
		return nil, errors.New("the batch holds no call")
	}
	return calls, nil
}

// AppendAnswerFrame appends the answer frame of the call at position pos:
// status, the values of httpx.AnswerHeaders (header(name)) and body.
func AppendAnswerFrame(dst []byte, pos, status int, header func(name string) string, body []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(pos))
	dst = binary.AppendUvarint(dst, uint64(status))
	for _, name := range httpx.AnswerHeaders {
		v := header(name)
		dst = binary.AppendUvarint(dst, uint64(len(v)))
		dst = append(dst, v...)
	}
	dst = binary.AppendUvarint(dst, uint64(len(body)))
	return append(dst, body...)
}

// answerFrame is one decoded frame of a batch's answer.
type answerFrame struct {
	pos    int
	status int
	header [4]string // httpx.AnswerHeaders' values
	body   []byte
}

// readAnswerFrame reads one frame; io.EOF at a frame boundary ends the
// answer. A body over maxBody is an error, as it is for a single forward.
func readAnswerFrame(br *bufio.Reader, calls, maxBody int) (answerFrame, error) {
	var f answerFrame
	pos, err := binary.ReadUvarint(br)
	if err != nil {
		return f, err // io.EOF here is the end of the answer
	}
	if pos >= uint64(calls) {
		return f, fmt.Errorf("an answer for call %d of a batch of %d", pos, calls)
	}
	f.pos = int(pos)
	status, err := binary.ReadUvarint(br)
	if err != nil {
		return f, noEOF(err)
	}
	if status < 100 || status > 599 {
		return f, fmt.Errorf("status %d in the answer for call %d", status, pos)
	}
	f.status = int(status)
	for i := range f.header {
		v, err := readString(br, 4096)
		if err != nil {
			return f, err
		}
		f.header[i] = string(v)
	}
	if f.body, err = readString(br, maxBody); err != nil {
		return f, err
	}
	return f, nil
}

func readString(br *bufio.Reader, max int) ([]byte, error) {
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return nil, noEOF(err)
	}
	if n > uint64(max) {
		return nil, fmt.Errorf("a field of %d bytes in a batch answer; at most %d are read", n, max)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(br, b); err != nil {
		return nil, noEOF(err)
	}
	return b, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// A Batcher forwards calls to the leader in batches (see PathBatch). It is
// safe for concurrent use.
type Batcher struct {
	auth    *Auth
	http    *http.Client
	timeout time.Duration // bounds one batch request

	mu    sync.Mutex
	queue []*queued
	// inflight counts the batch requests in flight per leader URL: a
	// leader that stopped answering holds its own until they time out,
	// never the next leader's.
	inflight map[string]int
}

// queued is a call waiting for a batch, then for its answer.
type queued struct {
	leader string
	call   Call
	size   int // encoded
	done   chan forwardResult
}

type forwardResult struct {
	a   httpx.Answer
	err error
}

// NewBatcher returns a Batcher that signs with auth, uses tlsConfig for
// https peer URLs (as NewClient), and gives each batch request at most
// timeout (a call's own wait is bounded by its context).
func NewBatcher(auth *Auth, tlsConfig *tls.Config, timeout time.Duration) *Batcher {
	dialer := &net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext:         dialer.DialContext,
		TLSClientConfig:     tlsConfig.Clone(),
		MaxIdleConnsPerHost: 2 * BatchesInFlight,
		// Far below the leader's idle timeout, as for single forwards
		// (maxIdleAge).
		IdleConnTimeout:    maxIdleAge,
		DisableCompression: true,
	}
	return &Batcher{auth: auth, http: &http.Client{Transport: tr}, timeout: timeout, inflight: map[string]int{}}
}

// Close drops idle connections.
func (b *Batcher) Close() { b.http.CloseIdleConnections() }

// Forward sends call to the leader at leaderURL in the next batch and
// returns its answer, with the errors of Client.Forward: one wrapping
// ErrNotDelivered means the leader never saw the call; any other leaves the
// outcome unknown. A call whose ctx ends while it still waits for a batch
// leaves the queue, not delivered.
func (b *Batcher) Forward(ctx context.Context, leaderURL string, call Call) (httpx.Answer, error) {
	size := len(call.Method) + len(call.URI) + len(call.IdempotencyKey) + len(call.Body) + 4*binary.MaxVarintLen64
	q := &queued{leader: leaderURL, call: call, size: size, done: make(chan forwardResult, 1)}
	b.mu.Lock()
	b.queue = append(b.queue, q)
	var batch []*queued
	if b.inflight[leaderURL] < BatchesInFlight {
		b.inflight[leaderURL]++
		batch = b.takeLocked(leaderURL)
	}
	b.mu.Unlock()
	if batch != nil {
		go b.run(leaderURL, batch)
	}
	select {
	case res := <-q.done:
		return res.a, res.err
	case <-ctx.Done():
	}
	b.mu.Lock()
	for i, w := range b.queue {
		if w == q {
			b.queue = append(b.queue[:i:i], b.queue[i+1:]...)
			b.mu.Unlock()
			return httpx.Answer{}, fmt.Errorf("%w: %w", ErrNotDelivered, context.Cause(ctx))
		}
	}
	b.mu.Unlock()
	select {
	case res := <-q.done: // it came as ctx ended
		return res.a, res.err
	default:
		return httpx.Answer{}, fmt.Errorf("the call was sent to the leader in a batch whose answer did not come in time: %w", context.Cause(ctx))
	}
}

// takeLocked takes the next batch to leader off the queue: up to
// MaxBatchCalls and a request body of maxBatchBytes, oldest first.
func (b *Batcher) takeLocked(leader string) []*queued {
	var batch, rest []*queued
	size := 0
	for _, q := range b.queue {
		if q.leader == leader && len(batch) < MaxBatchCalls && (len(batch) == 0 || size+q.size <= maxBatchBytes) {
			batch = append(batch, q)
			size += q.size
		} else {
			rest = append(rest, q)
		}
	}
	b.queue = rest
	return batch
}

// maxBatchBytes bounds a batch request's body: the leader's peer listener
// reads at most one log entry's bytes (1 MiB) per request.
const maxBatchBytes = 1 << 20

// run sends batch, then the batches queued meanwhile for the same leader,
// until there are none.
func (b *Batcher) run(leader string, batch []*queued) {
	for batch != nil {
		b.send(leader, batch)
		b.mu.Lock()
		batch = b.takeLocked(leader)
		if batch == nil {
			if b.inflight[leader]--; b.inflight[leader] == 0 {
				delete(b.inflight, leader)
			}
		}
		b.mu.Unlock()
	}
}

// send sends one batch and hands each call its answer or error.
func (b *Batcher) send(leader string, batch []*queued) {
	answered := make([]bool, len(batch))
	failAll := func(err error) {
		for i, q := range batch {
			if !answered[i] {
				answered[i] = true
				q.done <- forwardResult{err: err}
			}
		}
	}
	var body []byte
	for _, q := range batch {
		body = AppendCall(body, q.call)
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, leader+PathBatch, bytes.NewReader(body))
	if err != nil {
		failAll(fmt.Errorf("%w: leader peer URL %q: %v", ErrNotDelivered, leader, err))
		return
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	auth, err := b.auth.Headers(http.MethodPost, PathBatch, "", body, nil)
	if err != nil {
		failAll(fmt.Errorf("%w: %v", ErrNotDelivered, err))
		return
	}
	for i := 0; i+1 < len(auth); i += 2 {
		req.Header.Set(auth[i], auth[i+1])
	}
	resp, err := b.http.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			err = fmt.Errorf("%w: %v", ErrNotDelivered, err)
		}
		failAll(err)
		return
	}
	defer resp.Body.Close()
	if resp.Header.Get(HeaderID) == "" {
		page, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		failAll(fmt.Errorf("the answer (%d) is not a br2k peer's: %q", resp.StatusCode, page))
		return
	}
	if resp.StatusCode != http.StatusOK {
		// Refused as a whole, before any call of it ran (credentials,
		// size, a malformed batch): nothing was ordered.
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		err := fmt.Errorf("%w: the leader refused the batch (%d): %s", ErrNotDelivered, resp.StatusCode, msg)
		if resp.StatusCode == http.StatusUnauthorized && resp.Header.Get(HeaderRefusal) == refusalCredentials {
			err = fmt.Errorf("%w: %w: %s", ErrNotDelivered, ErrCredentialsRefused, msg)
		}
		failAll(err)
		return
	}
	br := bufio.NewReaderSize(resp.Body, 16<<10)
	for left := len(batch); ; {
		f, err := readAnswerFrame(br, len(batch), MaxAnswerBody)
		if err == io.EOF {
			failAll(errors.New("the leader's answer to the batch ended without this call's"))
			return
		}
		if err != nil {
			failAll(fmt.Errorf("reading the leader's answer to the batch: %w", err))
			return
		}
		if answered[f.pos] {
			failAll(fmt.Errorf("the leader's answer to the batch has call %d twice", f.pos))
			return
		}
		header := func(name string) string {
			for i, n := range httpx.AnswerHeaders {
				if n == name {
					return f.header[i]
				}
			}
			return ""
		}
		a, err := httpx.ReadAnswer(f.status, header, f.body)
		if err != nil {
			err = fmt.Errorf("the leader's answer (%d): %w", f.status, err)
		}
		answered[f.pos] = true
		batch[f.pos].done <- forwardResult{a: a, err: err}
		if left--; left == 0 {
			return
		}
	}
}
