package kv

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"

	"github.com/br2k/br2k"
)

// EffectRun is one line of an effects file: one run of the effect handler.
type EffectRun struct {
	ID      string `json:"id"`
	Replica string `json:"replica"`
	Term    int64  `json:"term"`
	Seq     uint64 `json:"seq"`
	Applied uint64 `json:"applied"` // the last entry applied to the state the handler saw
}

// FileEffects performs effects by appending one JSON line per run to a file,
// so that a test can count afterwards how often each effect really ran. A
// line is written with one write(2) on a file opened O_APPEND: a process
// killed after the handler returned has its line in the file.
type FileEffects struct {
	mu   sync.Mutex
	path string
	seq  uint64
	read bool // seq was initialised from the file
}

// NewFileEffects returns effects appending to path (created if missing).
func NewFileEffects(path string) *FileEffects { return &FileEffects{path: path} }

// Run appends the line of one run of effect id and returns its sequence
// number in the file, counting lines written before a restart.
func (f *FileEffects) Run(ctx *br2k.Ctx, id string) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.read {
		runs, err := ReadEffects(f.path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return 0, fmt.Errorf("effects: %w", err)
		}
		f.seq, f.read = uint64(len(runs)), true
	}
	e := ctx.Entry()
	run := EffectRun{ID: id, Replica: e.Subject.ID, Term: e.Term, Seq: f.seq + 1, Applied: e.Index}
	line, err := json.Marshal(run)
	if err != nil {
		return 0, fmt.Errorf("effects: %w", err)
	}
	file, err := os.OpenFile(f.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return 0, fmt.Errorf("effects: %w", err)
	}
	if _, err := file.Write(append(line, '\n')); err != nil {
		file.Close()
		return 0, fmt.Errorf("effects: %w", err)
	}
	if err := file.Close(); err != nil {
		return 0, fmt.Errorf("effects: %w", err)
	}
	f.seq++
	return f.seq, nil
}

// ReadEffects parses an effects file written by FileEffects.
func ReadEffects(path string) ([]EffectRun, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var runs []EffectRun
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var r EffectRun
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return runs, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		runs = append(runs, r)
	}
	return runs, sc.Err()
}
