package runtime

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// Op describes one annotated handler.
type Op struct {
	Name   string // Go method name; the op name in log entries
	Kind   Kind
	Method string // HTTP method
	Path   string // chi route pattern
	// Undoes is true for a replicated handler with backup and rollback
	// hooks: it puts back what it changed when it fails or panics, so the
	// runtime takes no Checkpoint for it.
	Undoes bool
}

// Call is a decoded, validated request ready to be ordered.
type Call struct {
	Op      string
	Kind    Kind
	Payload []byte // canonical JSON of the handler's input
}

// Proposer is what generated HTTP handlers hand decoded calls to. The runtime
// implements it: it forwards to the leader when needed, orders the call, and
// writes the outcome (status, JSON body, and the Br2k-Index header) to w.
type Proposer interface {
	Submit(w http.ResponseWriter, r *http.Request, call Call)
}

// Service is implemented by the generated br2k_gen.go of a service package.
// The runtime serialises access: Apply and Restore run with the state locked
// for writing; RunOnce and Snapshot with it locked for reading. Generated code
// takes no locks of its own.
type Service interface {
	// Ops lists the service's handlers, sorted by name.
	Ops() []Op
	// Mount registers one chi route per handler on r. Each route decodes and
	// validates its request (writing a 4xx error itself when that fails) and
	// passes the call to p.
	Mount(r chi.Router, p Proposer)
	// Apply runs replicated handler op on payload. It is deterministic: every
	// replica given the same state and entry returns the same outcome and
	// leaves the same state. It undoes a failed call's changes only for ops
	// that say so (Op.Undoes, backup and rollback hooks); for the others the
	// runtime does, with Checkpoint.
	Apply(ctx *Ctx, op string, payload []byte) Outcome
	// Checkpoint deep-copies the replicated part of the state and returns a
	// func that puts it back, to be called at most once. The runtime takes
	// one before a batch of calls; when a call fails it restores it and
	// applies again the calls of the batch that succeeded before.
	Checkpoint() (restore func())
	// RunOnce runs onlyonce handler op on payload, on the leader only.
	RunOnce(ctx *Ctx, op string, payload []byte) Outcome
	// Snapshot encodes the replicated part of the state. Equal states give
	// equal bytes, so a digest of the snapshot compares replicas.
	Snapshot() ([]byte, error)
	// Restore replaces the replicated part of the state with a snapshot's.
	// Fields tagged `br2k:"-"` (dependencies, not state) are kept.
	Restore(snapshot []byte) error
}
