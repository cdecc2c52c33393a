package replica

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestTallyDecidesOnlyOnAMajorityOfAtLeastTwo(t *testing.T) {
	tests := []struct {
		name     string
		all      map[string]string
		agreed   bool
		majority string
	}{
		{"alone", map[string]string{"r1": "a"}, false, ""},
		{"two agree", map[string]string{"r1": "a", "r2": "a"}, true, ""},
		{"two differ", map[string]string{"r1": "a", "r2": "b"}, false, ""},
		{"two of three agree with me", map[string]string{"r1": "a", "r2": "a", "r3": "b"}, true, ""},
		{"two of three agree against me", map[string]string{"r1": "a", "r2": "b", "r3": "b"}, false, "b"},
		{"three different", map[string]string{"r1": "a", "r2": "b", "r3": "c"}, false, ""},
	}
	for _, tt := range tests {
		agreed, majority, _ := tally(tt.all, "a")
		if agreed != tt.agreed || majority != tt.majority {
			t.Errorf("%s: agreed %v majority %q, want %v %q", tt.name, agreed, majority, tt.agreed, tt.majority)
		}
	}
}

func TestTheDigestCacheNeverGoesBackToAnOlderIndex(t *testing.T) {
	var c digestCache
	if !c.keep(10, "a") || !c.keep(10, "a") {
		t.Fatal("an empty cache, or one of the same index, refused a digest")
	}
	if c.keep(5, "old") || c.index != 10 || c.digest != "a" {
		t.Fatalf("an older digest replaced index 10: cache at %d %q", c.index, c.digest)
	}
	if !c.keep(20, "b") || c.index != 20 || c.digest != "b" || !c.valid {
		t.Fatalf("a newer digest was refused: cache at %d %q", c.index, c.digest)
	}
}

// A replica that does not serve still answers the runtime's status and
// wait, and nothing else: not a service route that a leading path
// parameter lets match /br2k/... .
func TestAReplicaThatDoesNotServeLetsThroughOnlyTheRuntimesEndpoints(t *testing.T) {
	r := &Replica{}
	r.diverged.Store(&divergence{index: 40})
	h := r.refuseUnlessServing(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	for path, want := range map[string]int{
		"/br2k/status":     http.StatusTeapot,
		"/br2k/wait":       http.StatusTeapot,
		"/br2k/accounts":   http.StatusServiceUnavailable, // a route /{tenant}/accounts
		"/br2k/status/x":   http.StatusServiceUnavailable,
		"/transfers":       http.StatusServiceUnavailable,
		"/br2k/peer/other": http.StatusServiceUnavailable,
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		if w.Code != want {
			t.Errorf("%s: %d, want %d", path, w.Code, want)
		}
	}
}
