package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/br2k/br2k/internal/testmysql"
)

// BenchmarkMySQLBackupRestore puts a state stream of BR2K_BENCH_MB
// megabytes (default 128) with a 16 MB etcd stream into the local MariaDB,
// unpaced, and reads the state back verified, printing both rates. The
// bytes are random: MariaDB stores them as they are. Run it once:
//
//	go test ./runtime/backup -run '^$' -bench MySQLBackupRestore -benchtime 1x
func BenchmarkMySQLBackupRestore(b *testing.B) {
	mb := 128
	if v, err := strconv.Atoi(os.Getenv("BR2K_BENCH_MB")); err == nil && v > 0 {
		mb = v
	}
	size := int64(mb) << 20
	m, err := OpenMySQL(context.Background(), testAuth(testmysql.Database(b)))
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	stream := func(seed uint64, n int64) io.Reader {
		return io.LimitReader(randReader{rand.NewChaCha8([32]byte{byte(seed)})}, n)
	}
	h := sha256.New()
	io.Copy(h, stream(1, size))
	sum := hex.EncodeToString(h.Sum(nil))
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		index := uint64(i + 1)
		start := time.Now()
		meta, err := m.Put(ctx, Meta{Index: index, StateSize: size, StateSHA256: sum}, stream(1, size), stream(2, 16<<20))
		if err != nil {
			b.Fatal(err)
		}
		put := time.Since(start)
		start = time.Now()
		rc, err := m.OpenState(ctx, index)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil || n != size {
			b.Fatalf("read back %d of %d bytes: %v", n, size, err)
		}
		get := time.Since(start)
		total := float64(meta.StateSize+meta.EtcdSize) / 1e6
		fmt.Printf("mysql: backup %.0f MB (state and etcd streams, %d-byte chunks) in %v: %.0f MB/s; restore of the %.0f MB state, verified, in %v: %.0f MB/s\n",
			total, meta.ChunkSize, put.Round(time.Millisecond), total/put.Seconds(), float64(size)/1e6, get.Round(time.Millisecond), float64(size)/1e6/get.Seconds())
		b.ReportMetric(total/put.Seconds(), "backup-MB/s")
		b.ReportMetric(float64(size)/1e6/get.Seconds(), "restore-MB/s")
	}
}

// randReader reads a deterministic pseudo-random stream.
type randReader struct{ r *rand.ChaCha8 }

func (r randReader) Read(p []byte) (int, error) { return r.r.Read(p) }
