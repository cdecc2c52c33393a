// Package nondet has replicated handlers that would make replicas diverge,
// and, in Fine, the deterministic ways to do the same.
package nondet

import (
	crand "crypto/rand"
	"fmt"
	mrand "math/rand"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/go-chi/chi/v5"
	"golang.org/x/mod/semver"

	"github.com/br2k/br2k"
)

//br2k:trust golang.org/x/mod/...

//br2k:state
type Svc struct {
	N    map[string]int `json:"n"`
	When time.Time      `json:"when"`

	Notary Notary     `br2k:"-"`
	mu     sync.Mutex `br2k:"-"`
}

type Notary interface{ Stamp(s string) string }

type In struct {
	ID string `json:"id"`
}

var calls int
var seen = map[string]bool{}

//br2k:replicate POST /clock
func (s *Svc) Clock(ctx *br2k.Ctx, in In) (string, error) {
	s.When = time.Now()
	d := time.Since(s.When) + time.Until(s.When)
	t := time.NewTimer(d)
	t.Stop()
	time.Sleep(d)
	return stamp(), nil
}

// stamp is reached from Clock.
func stamp() string { return time.Now().Format(time.RFC3339) }

//br2k:replicate POST /random
func (s *Svc) Random(ctx *br2k.Ctx, in In) (int, error) {
	var b [8]byte
	crand.Read(b[:])
	return mrand.Intn(10) + rand.IntN(10), nil
}

//br2k:replicate POST /io
func (s *Svc) IO(ctx *br2k.Ctx, in In) (string, error) {
	home := os.Getenv("HOME")
	data, _ := os.ReadFile("/etc/hostname")
	resp, err := http.Get("http://example.com/" + in.ID)
	if err == nil {
		resp.Body.Close()
	}
	fmt.Println(home)
	fmt.Fprintln(os.Stdout, len(data))
	println(in.ID)
	return s.Notary.Stamp(in.ID), nil
}

//br2k:replicate POST /concurrency
func (s *Svc) Concurrency(ctx *br2k.Ctx, in In) (int, error) {
	ch := make(chan int, 1)
	go func() { ch <- 1 }()
	n := <-ch
	select {
	case n = <-ch:
	default:
	}
	for range ch {
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return n, nil
}

//br2k:replicate POST /globals
func (s *Svc) Globals(ctx *br2k.Ctx, in In) (int, error) {
	calls++
	seen[in.ID] = true
	p := unsafe.Pointer(&calls)
	_ = p
	return calls, nil
}

//br2k:replicate POST /untrusted
func (s *Svc) Untrusted(ctx *br2k.Ctx, in In) (string, error) {
	r := chi.NewRouter()
	return fmt.Sprint(r.Routes()), nil
}

// Fine uses the entry's time and random source, deterministic packages
// and a package the service marked trusted.
//
//br2k:replicate POST /fine
func (s *Svc) Fine(ctx *br2k.Ctx, in In) (string, error) {
	s.When = ctx.Now()
	n := ctx.Rand().IntN(10) + rand.New(rand.NewPCG(1, 2)).IntN(10)
	s.N[strings.ToUpper(in.ID)] = n
	_ = chi.URLParam // a reference, not a call
	d := time.Unix(0, 0).Add(time.Second).Sub(s.When)
	return fmt.Sprintf("%d %v %s", n, d, semver.Canonical(in.ID)), nil
}
