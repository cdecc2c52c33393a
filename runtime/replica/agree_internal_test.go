package replica

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
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

// Replicas replaced under new ids (a redeployment) stay in the count a
// version needs until they are removed: the leader says so, naming them,
// when they hold compaction back, and only then.
func TestTheLeaderNamesReplicasThatHoldCompactionBackWithoutRunning(t *testing.T) {
	var logs strings.Builder
	r := &Replica{logger: slog.New(slog.NewTextHandler(&logs, nil))}
	r.absentLog.period = time.Hour
	running := map[string]string{"r4": "", "r5": "", "r6": ""}
	all := map[uint64]map[string]string{
		50:  {"r1": "a", "r2": "a", "r3": "a"},
		100: {"r4": "b", "r5": "b", "r6": "b"},
	}
	// Not blocked: r1..r3 are absent, but version 100 has three of six.
	r.noteAbsentPublishers(all, running, majorityVersions(all, running))
	if !strings.Contains(logs.String(), "absent=r1,r2,r3") || !strings.Contains(logs.String(), "newest_version_the_running_agree_on=100") {
		t.Fatalf("the absent replicas that hold compaction back were not named:\n%s", logs.String())
	}
	logs.Reset()
	r.absentLog = logLimit{period: time.Hour}
	// Absent, but not holding anything back: r1 alone of four.
	all = map[uint64]map[string]string{100: {"r1": "a", "r4": "b", "r5": "b", "r6": "b"}}
	r.noteAbsentPublishers(all, running, majorityVersions(all, running))
	if logs.Len() != 0 {
		t.Fatalf("warned though the running replicas' version is agreed:\n%s", logs.String())
	}
}
