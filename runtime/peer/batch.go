package peer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"syscall"
	"time"

	"github.com/br2k/br2k/runtime/httpx"
)

// PathCalls is the leader's peer endpoint for forwarded calls sent
// together: one signed request carries several calls, and its answer carries
// their answers in the same order. Each call still goes through the
// service's generated route on the leader, exactly as a call forwarded alone
// does.
//
// A follower sends the calls it received while its previous batch was out
// as one request, so that the request's cost (its HTTP round trip on both
// sides, the HMAC and the replay check) is paid once per batch, not once per
// call. Measured with br2kbench (64 clients to any replica, 3 replicas on 2
// cores), the CPU of a call to any replica went from 1.47× to 1.27× that of
// a call sent to the leader; batches held about 8 calls with 2 in flight.
const PathCalls = "/br2k/peer/calls"

// Bounds of one batch. A batch's encoding is at most MaxBatchBytes (the
// leader's peer listener reads at most that much, one log entry), so a call
// whose body is over MaxBatchedBody goes alone.
const (
	MaxBatchCalls  = 256
	MaxBatchBytes  = 1 << 20
	MaxBatchedBody = 64 << 10
	// maxInflight is how many batches a follower has in flight to the
	// leader at once; calls that arrive meanwhile wait for the next. One
	// makes the largest batches; measured with br2kbench at 64 clients to
	// any replica, it also gave the lowest latency (p50 7.6 ms against
	// 8.4–8.8 ms with 2 or 8, and 8.6 ms unbatched).
	maxInflight = 1
)

// EncodeCalls encodes calls for PathCalls: a count, then per call its
// method, URI, Idempotency-Key and body, each length-prefixed.
func EncodeCalls(calls []Call) []byte {
	n := binary.MaxVarintLen64
	for _, c := range calls {
		n += callSize(c)
	}
	b := make([]byte, 0, n)
	b = binary.AppendUvarint(b, uint64(len(calls)))
	for _, c := range calls {
		b = appendBytes(b, []byte(c.Method))
		b = appendBytes(b, []byte(c.URI))
		b = appendBytes(b, []byte(c.IdempotencyKey))
		b = appendBytes(b, c.Body)
	}
	return b
}

// callSize is an upper bound of c's encoding in a batch.
func callSize(c Call) int {
	return 4*binary.MaxVarintLen32 + len(c.Method) + len(c.URI) + len(c.IdempotencyKey) + len(c.Body)
}

// DecodeCalls decodes what EncodeCalls encoded; it refuses more than
// maxCalls calls. The calls' fields alias b.
func DecodeCalls(b []byte, maxCalls int) ([]Call, error) {
	d := decoder{b: b}
	n := d.count(maxCalls)
	calls := make([]Call, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		calls = append(calls, Call{
			Method:         string(d.bytes()),
			URI:            string(d.bytes()),
			IdempotencyKey: string(d.bytes()),
			Body:           d.bytes(),
		})
	}
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("%d bytes after the last call", len(d.b))
	}
	if d.err != nil {
		return nil, fmt.Errorf("batch of calls: %w", d.err)
	}
	return calls, nil
}

// WireAnswer is one call's answer as the leader's route wrote it: its
// status, the httpx.AnswerHeaders (in that order; "" when unset) and its
// body. httpx.ReadAnswer turns it back into an Answer.
type WireAnswer struct {
	Status  int
	Headers []string
	Body    []byte
}

// EncodeAnswers encodes the answers of a batch, in its calls' order.
func EncodeAnswers(answers []WireAnswer) []byte {
	n := binary.MaxVarintLen64
	for _, a := range answers {
		n += 2*binary.MaxVarintLen32 + len(a.Body)
		for _, h := range a.Headers {
			n += binary.MaxVarintLen32 + len(h)
		}
	}
	b := make([]byte, 0, n)
	b = binary.AppendUvarint(b, uint64(len(answers)))
	for _, a := range answers {
		b = binary.AppendUvarint(b, uint64(a.Status))
		for i := range httpx.AnswerHeaders {
			var h string
			if i < len(a.Headers) {
				h = a.Headers[i]
			}
			b = appendBytes(b, []byte(h))
		}
		b = appendBytes(b, a.Body)
	}
	return b
}

// DecodeAnswers decodes the answers of a batch of want calls into Answers.
func DecodeAnswers(b []byte, want int) ([]httpx.Answer, error) {
	d := decoder{b: b}
	if n := d.count(want); d.err == nil && n != want {
		return nil, fmt.Errorf("batch answer: %d answers for %d calls", n, want)
	}
	out := make([]httpx.Answer, 0, want)
	headers := make(map[string]string, len(httpx.AnswerHeaders))
	for i := 0; i < want && d.err == nil; i++ {
		status := d.uvarint()
		for _, name := range httpx.AnswerHeaders {
			headers[name] = string(d.bytes())
		}
		body := d.bytes()
		if d.err != nil {
			break
		}
		if status > 999 {
			return nil, fmt.Errorf("batch answer %d: bad status %d", i, status)
		}
		a, err := httpx.ReadAnswer(int(status), func(name string) string { return headers[name] }, slices.Clone(body))
		if err != nil {
			return nil, fmt.Errorf("batch answer %d: %w", i, err)
		}
		out = append(out, a)
	}
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("%d bytes after the last answer", len(d.b))
	}
	if d.err != nil {
		return nil, fmt.Errorf("batch answer: %w", d.err)
	}
	return out, nil
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads length-prefixed fields; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errors.New("truncated or bad length")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = fmt.Errorf("a field of %d bytes with %d left", n, len(d.b))
		return nil
	}
	s := d.b[:n:n]
	d.b = d.b[n:]
	return s
}

func (d *decoder) count(max int) int {
	n := d.uvarint()
	if d.err == nil && n > uint64(max) {
		d.err = fmt.Errorf("%d items, at most %d are allowed", n, max)
	}
	if d.err != nil {
		return 0
	}
	return int(n)
}

// A pending call waits in a leader's queue, or in a batch in flight, for
// its answer.
type pending struct {
	call  Call
	ctx   context.Context
	size  int
	sent  bool        // taken into a batch (guarded by Client.bmu)
	reply chan result // buffered: the sender never blocks on it
}

type result struct {
	answer httpx.Answer
	err    error
}

// batchQueue holds the calls waiting to go to one leader.
type batchQueue struct {
	calls    []*pending
	inflight int
}

// ForwardBatched is Forward for a call that may share one peer request with
// other calls to the same leader (a replicated call: its answer comes once
// it is applied, as its batch-mates' do). A call arriving while fewer than
// maxInflight batches are out goes at once, with whatever else is waiting;
// otherwise it goes with the next batch. Errors mean what Forward's do: one
// wrapping ErrNotDelivered means the leader never saw the call.
func (c *Client) ForwardBatched(ctx context.Context, leaderURL string, call Call) (httpx.Answer, error) {
	p := &pending{call: call, ctx: ctx, size: callSize(call), reply: make(chan result, 1)}
	c.bmu.Lock()
	if len(call.Body) > MaxBatchedBody || c.noBatch[leaderURL] {
		c.bmu.Unlock()
		return c.Forward(ctx, leaderURL, call)
	}
	if c.queues == nil {
		c.queues = make(map[string]*batchQueue)
	}
	q := c.queues[leaderURL]
	if q == nil {
		q = &batchQueue{}
		c.queues[leaderURL] = q
	}
	q.calls = append(q.calls, p)
	batch := c.takeLocked(q)
	c.bmu.Unlock()
	if batch != nil {
		c.sendBatch(leaderURL, batch)
	}
	select {
	case r := <-p.reply:
		return r.answer, r.err
	case <-ctx.Done():
	}
	c.bmu.Lock()
	if !p.sent {
		// Still queued: take it out, so it is certainly never sent.
		q.calls = slices.DeleteFunc(q.calls, func(x *pending) bool { return x == p })
		c.bmu.Unlock()
		return httpx.Answer{}, fmt.Errorf("%w: %v", ErrNotDelivered, ctx.Err())
	}
	c.bmu.Unlock()
	return httpx.Answer{}, ctx.Err()
}

// takeLocked takes the next batch from q if fewer than maxInflight are in
// flight, and counts it as in flight; nil when none may go or none waits.
func (c *Client) takeLocked(q *batchQueue) []*pending {
	if q.inflight >= maxInflight || len(q.calls) == 0 {
		return nil
	}
	n, size := 0, binary.MaxVarintLen64
	for n < len(q.calls) && n < MaxBatchCalls && (n == 0 || size+q.calls[n].size <= MaxBatchBytes) {
		size += q.calls[n].size
		n++
	}
	batch := slices.Clone(q.calls[:n])
	q.calls = slices.Delete(q.calls, 0, n)
	for _, p := range batch {
		p.sent = true
	}
	q.inflight++
	return batch
}

// sendBatch sends batch to the leader and hands every call its answer,
// then starts the next batch if calls are waiting.
func (c *Client) sendBatch(leaderURL string, batch []*pending) {
	answers, err := c.doBatch(leaderURL, batch)
	for i, p := range batch {
		if err != nil {
			p.reply <- result{err: err}
		} else {
			p.reply <- result{answer: answers[i]}
		}
	}
	c.bmu.Lock()
	q := c.queues[leaderURL]
	q.inflight--
	next := c.takeLocked(q)
	if next == nil && q.inflight == 0 && len(q.calls) == 0 {
		delete(c.queues, leaderURL)
	}
	c.bmu.Unlock()
	if next != nil {
		go c.sendBatch(leaderURL, next)
	}
}

// doBatch sends one batch and returns its answers, one per call.
func (c *Client) doBatch(leaderURL string, batch []*pending) ([]httpx.Answer, error) {
	calls := make([]Call, len(batch))
	var deadline time.Time
	for i, p := range batch {
		calls[i] = p.call
		if dl, ok := p.ctx.Deadline(); ok && dl.After(deadline) {
			deadline = dl
		}
	}
	body := EncodeCalls(calls)
	cn, err := c.conn(leaderURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotDelivered, err)
	}
	if !deadline.IsZero() {
		cn.SetDeadline(deadline)
	}
	extra, err := c.auth.Headers(http.MethodPost, PathCalls, "", body, make([]string, 0, 8))
	if err != nil {
		c.release(leaderURL, cn)
		return nil, fmt.Errorf("%w: %v", ErrNotDelivered, err)
	}
	resp, err := cn.Do(http.MethodPost, PathCalls, body, extra, HeaderID)
	if err != nil {
		cn.Close()
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("%w: %v", ErrNotDelivered, err)
		}
		return nil, err
	}
	defer c.release(leaderURL, cn)
	if resp.Header[HeaderID] == "" {
		return nil, fmt.Errorf("the answer (%d) is not a br2k peer's: %.200q", resp.Status, resp.Body)
	}
	switch {
	case resp.Status == http.StatusOK:
		return DecodeAnswers(resp.Body, len(batch))
	case resp.Status == http.StatusNotFound || resp.Status == http.StatusMethodNotAllowed:
		// A leader of an earlier version, without PathCalls: forward to it
		// one call at a time. No call of the batch ran.
		c.bmu.Lock()
		if c.noBatch == nil {
			c.noBatch = make(map[string]bool)
		}
		c.noBatch[leaderURL] = true
		c.bmu.Unlock()
		return nil, fmt.Errorf("%w: the leader has no %s; calls go to it one at a time", ErrNotDelivered, PathCalls)
	case resp.Status == http.StatusUnauthorized:
		return nil, fmt.Errorf("%w: the leader refused this replica's credentials: %.300s", ErrNotDelivered, resp.Body)
	case resp.Status == http.StatusBadRequest || resp.Status == http.StatusRequestEntityTooLarge ||
		resp.Status == http.StatusServiceUnavailable:
		// The batch as a whole was refused before any call in it ran (its
		// encoding, its size, the replay cache): the calls may be sent
		// again.
		return nil, fmt.Errorf("%w: the leader refused the batch (%d): %.300s", ErrNotDelivered, resp.Status, resp.Body)
	default:
		return nil, fmt.Errorf("the leader's answer to a batch (%d): %.300s", resp.Status, resp.Body)
	}
}
