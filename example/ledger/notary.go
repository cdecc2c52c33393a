package ledger

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"sync"

	"github.com/br2k/br2k"
)

// FileNotary issues receipts by appending them, one JSON object per line, to
// a file; a receipt's reference is the SHA-256 of its line. It is the
// example's notary until receipts are anchored on chain by the service
// registry; the file shows how often receipts were really issued.
type FileNotary struct {
	mu   sync.Mutex
	path string
}

// NewFileNotary returns a notary appending to path.
func NewFileNotary(path string) *FileNotary { return &FileNotary{path: path} }

// Issue appends r to the file and returns its reference.
func (n *FileNotary) Issue(ctx *br2k.Ctx, r Receipt) (string, error) {
	line, err := json.Marshal(struct {
		Receipt
		Time  string `json:"time"`
		Index uint64 `json:"state_index"`
	}{r, ctx.Now().Format("2006-01-02T15:04:05.000Z07:00"), ctx.Entry().Index})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(line)
	n.mu.Lock()
	defer n.mu.Unlock()
	f, err := os.OpenFile(n.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return "", fmt.Errorf("notary: %w", err)
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return "", fmt.Errorf("notary: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("notary: %w", err)
	}
	return "0x" + hex.EncodeToString(sum[:]), nil
}
