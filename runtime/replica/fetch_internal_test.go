package replica

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/br2k/br2k/runtime/peer"
)

// A peer that stops sending in the middle of a version, or before its
// answer's headers, must not hold the replica that downloads it: the
// download is given up and the next holder can be tried.
func TestAVersionDownloadFromAPeerThatStopsSendingIsGivenUp(t *testing.T) {
	defer func(d time.Duration) { fetchStall = d }(fetchStall)
	fetchStall = 200 * time.Millisecond
	auth, err := peer.NewAuth("r1", []byte("fetch-test-secret-0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	r := &Replica{opts: Options{StatePath: t.TempDir(), PeerAuth: auth, MaxVersionBytes: 1 << 20}}

	for _, tc := range []struct {
		name  string
		serve func(w http.ResponseWriter)
	}{
		{"after the header line", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusOK)
			w.Write([]byte(`{"format":1,"index":5,"machine_bytes":10,"state_bytes":10,"sha256":"ab"}` + "\n12345"))
			w.(http.Flusher).Flush()
		}},
		{"before the headers", func(w http.ResponseWriter) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				tc.serve(w)
				<-release // a paused process: the connection stays open
			}))
			defer srv.Close()
			defer close(release)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := r.fetchVersion(ctx, srv.URL, 5, "ab")
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "sent nothing for") {
					t.Fatalf("fetch: %v, want an error saying the peer sent nothing", err)
				}
			case <-ctx.Done():
				t.Fatal("the download still waits on a peer that sends nothing after a minute")
			}
		})
	}
}
