package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/br2k/br2k/internal/testmysql"
	"github.com/br2k/br2k/runtime/config"
	"github.com/br2k/br2k/templates"
)

const testMySQLHost = testmysql.Host

func testDatabase(t *testing.T) string { return testmysql.Database(t) }

func testAuth(database string) config.BackupStorageAuth { return testmysql.Auth(database, "") }

func openTestMySQL(t *testing.T) *MySQL {
	t.Helper()
	m, err := OpenMySQL(context.Background(), testAuth(testDatabase(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func mysqlHarness() harness {
	return harness{
		open: func(t *testing.T) Storage { return openTestMySQL(t) },
		corrupt: func(t *testing.T, s Storage, index uint64, stream string, chunk int) {
			m := s.(*MySQL)
			table, column := tableStates, "state_id"
			if stream == StreamEtcd {
				table, column = tableSnapshot, "snapshot_id"
			}
			var id string
			var data []byte
			if err := m.db.QueryRow("SELECT `"+column+"` FROM router WHERE complete_index = ?", index).Scan(&id); err != nil {
				t.Fatal(err)
			}
			if err := m.db.QueryRow("SELECT data FROM `"+table+"` WHERE id = ? AND chunk_id = ?", id, chunk).Scan(&data); err != nil {
				t.Fatal(err)
			}
			data[5] ^= 1
			if _, err := m.db.Exec("UPDATE `"+table+"` SET data = ? WHERE id = ? AND chunk_id = ?", data, id, chunk); err != nil {
				t.Fatal(err)
			}
		},
		leftovers: func(t *testing.T, s Storage) int {
			var n int
			err := s.(*MySQL).db.QueryRow(`SELECT
				(SELECT COUNT(*) FROM router WHERE complete_index IS NULL) +
				(SELECT COUNT(*) FROM states s LEFT JOIN router r ON s.id = r.state_id WHERE r.complete_index IS NULL) +
				(SELECT COUNT(*) FROM snapshot s LEFT JOIN router r ON s.id = r.snapshot_id WHERE r.complete_index IS NULL)`).Scan(&n)
			if err != nil {
				t.Fatal(err)
			}
			return n
		},
		crashy: func(s Storage) { s.(*MySQL).noCleanup = true },
	}
}

func TestMySQLContract(t *testing.T) { runContract(t, mysqlHarness()) }

// TestMySQLSchemaKeepsBr2kWasTables: the tables an operator of br2k-was
// knows, with their columns first, and opening twice is harmless.
func TestMySQLSchemaKeepsBr2kWasTables(t *testing.T) {
	db := testDatabase(t)
	for i := 0; i < 2; i++ {
		m, err := OpenMySQL(context.Background(), testAuth(db))
		if err != nil {
			t.Fatalf("open %d: %v", i+1, err)
		}
		m.Close()
	}
	got := columns(t, db)
	want := []string{
		"router.index int(11)", "router.id varchar(45)", "router.state_id varchar(45)", "router.snapshot_id varchar(45)",
		"router.content_hash char(64)", "router.log_index bigint(20) unsigned", "router.version bigint(20) unsigned",
		"router.chunk_size int(11)", "router.state_size bigint(20)", "router.snapshot_size bigint(20)", "router.snapshot_hash char(64)",
		"router.created datetime(6)", "router.complete_index bigint(20) unsigned",
		"snapshot.id varchar(45)", "snapshot.chunk_id int(11)", "snapshot.data longblob", "snapshot.data_size int(11)", "snapshot.data_sha256 char(64)",
		"states.id varchar(45)", "states.chunk_id int(11)", "states.data longblob", "states.data_size int(11)", "states.data_sha256 char(64)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("columns:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func columns(t *testing.T, db string) []string {
	t.Helper()
	return testmysql.Columns(t, testmysql.Open(t, db), db)
}

// TestMySQLCompletesTablesMadeByTheTemplate: tables created from
// templates/schema.sql.tmpl (what `br2kgen init` gives an operator) get the
// columns and keys they lack, and then work.
func TestMySQLCompletesTablesMadeByTheTemplate(t *testing.T) {
	db := testDatabase(t)
	ddl, err := templates.Render("schema.sql.tmpl", nil)
	if err != nil {
		t.Fatal(err)
	}
	conn := testmysql.Open(t, db)
	if _, err := conn.Exec(string(ddl)); err != nil {
		t.Fatal(err)
	}
	m, err := OpenMySQL(context.Background(), testAuth(db))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	v := newVersion(42, 200<<10, 100<<10)
	v.put(t, m)
	if got, err := readAll(t, m.OpenState, 42); err != nil || string(got) != string(v.state) {
		t.Errorf("OpenState: %d bytes, %v", len(got), err)
	}
	var unique int
	if err := conn.QueryRow(`SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = ? AND table_name = 'router'
		AND index_name = 'router_complete_index' AND non_unique = 0`, db).Scan(&unique); err != nil || unique != 1 {
		t.Errorf("router_complete_index: %d, %v", unique, err)
	}
}

// TestMySQLOpenErrorsNameTheConfigKey: what is missing or refused is named
// by its configuration key, and the password is in no error.
func TestMySQLOpenErrorsNameTheConfigKey(t *testing.T) {
	db := testDatabase(t)
	const password = "hunter2-do-not-print"
	for _, c := range []struct {
		name string
		auth config.BackupStorageAuth
		want []string
	}{
		{"no host", config.BackupStorageAuth{Database: db}, []string{keyHost, "required"}},
		{"no database", config.BackupStorageAuth{Host: testMySQLHost}, []string{keyDatabase, "required"}},
		{"nothing listening", config.BackupStorageAuth{Host: "127.0.0.1:1", User: "root", Password: config.NewSecret(password), Database: db},
			[]string{keyHost, "127.0.0.1:1"}},
		{"wrong password", config.BackupStorageAuth{Host: testMySQLHost, User: "root", Password: config.NewSecret(password), Database: db},
			[]string{keyUser, keyPassword, config.EnvBackupPassword}},
		{"no such database", config.BackupStorageAuth{Host: testMySQLHost, User: "root", Database: db + "_missing"},
			[]string{keyDatabase, db + "_missing", "does not exist"}},
	} {
		m, err := OpenMySQL(context.Background(), c.auth)
		if err == nil {
			m.Close()
			t.Errorf("%s: opened", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", c.name, err, w)
			}
		}
		if strings.Contains(err.Error(), password) {
			t.Errorf("%s: the error shows the password: %v", c.name, err)
		}
		t.Logf("%s: %v", c.name, err)
	}
}

// TestMySQLChunkAboveMaxAllowedPacketIsRefused: a chunk the server could not
// take is refused before anything is written, naming the setting.
func TestMySQLChunkAboveMaxAllowedPacketIsRefused(t *testing.T) {
	m := openTestMySQL(t)
	var maxPacket int
	if err := m.db.QueryRow("SELECT @@max_allowed_packet").Scan(&maxPacket); err != nil {
		t.Fatal(err)
	}
	if m.defaultChunk > maxPacket-packetMargin || m.defaultChunk > DefaultChunkSize {
		t.Errorf("default chunk %d with max_allowed_packet %d", m.defaultChunk, maxPacket)
	}
	if maxPacket >= MaxChunkSize {
		t.Skipf("max_allowed_packet is %d: every allowed chunk fits", maxPacket)
	}
	v := newVersion(1, 1<<10, 1<<10)
	v.meta.ChunkSize = maxPacket
	_, err := m.Put(context.Background(), v.meta, untouchable{t}, untouchable{t})
	if err == nil || !strings.Contains(err.Error(), "max_allowed_packet") {
		t.Errorf("Put: %v, want an error naming max_allowed_packet", err)
	}
}

// TestMySQLLargeStreamsUseBoundedMemory puts and reads a 32 MiB state in
// 4 MiB chunks and checks the live heap stays well below the stream's size:
// neither way holds the whole stream.
func TestMySQLLargeStreamsUseBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("32 MiB through MariaDB")
	}
	m := openTestMySQL(t)
	const size, chunkSize = 32 << 20, 4 << 20
	stream := func() io.Reader {
		return io.LimitReader(rand.NewChaCha8([32]byte{7}), size)
	}
	h := sha256.New()
	io.Copy(h, stream())
	stateSum := hex.EncodeToString(h.Sum(nil))

	var peak uint64
	sample := func() {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	const bound = 5 * chunkSize // a few chunk buffers: ours, the driver's

	start := time.Now()
	meta, err := m.Put(context.Background(), Meta{Index: 1, StateSize: size, StateSHA256: stateSum, ChunkSize: chunkSize},
		&sampling{r: stream(), every: chunkSize, sample: sample}, io.LimitReader(rand.NewChaCha8([32]byte{8}), 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	putTook := time.Since(start)
	putPeak := peak - min(peak, base)

	peak = 0
	start = time.Now()
	r, err := m.OpenState(context.Background(), meta.Index)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, &sampling{r: r, every: chunkSize, sample: sample})
	r.Close()
	if err != nil || n != size {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	readTook := time.Since(start)
	readPeak := peak - min(peak, base)
	t.Logf("32 MiB: put %v, read %v; live heap above the start: put %d MiB, read %d MiB (bound %d MiB)",
		putTook.Round(time.Millisecond), readTook.Round(time.Millisecond), putPeak>>20, readPeak>>20, bound>>20)
	if putPeak > bound || readPeak > bound {
		t.Errorf("live heap grew by %d MiB (put) and %d MiB (read), more than %d MiB", putPeak>>20, readPeak>>20, bound>>20)
	}
}

// sampling calls sample every time another `every` bytes went through.
type sampling struct {
	r      io.Reader
	every  int
	sample func()
	n      int
}

func (s *sampling) Read(p []byte) (int, error) {
	k, err := s.r.Read(p)
	s.n += k
	if s.n >= s.every {
		s.n = 0
		s.sample()
	}
	return k, err
}

// TestMySQLRouterSizesAreCheckedBeforeUse: a router row is stored data, and
// a reader allocates a chunk-sized buffer and computes chunk counts and
// offsets from its sizes. Sizes that are out of range make the row no
// version: not listed, refused on open with an error naming the column,
// not answered ErrExists to a Put, and neither counted nor deleted by
// Retain. Never a panic or a huge allocation.
func TestMySQLRouterSizesAreCheckedBeforeUse(t *testing.T) {
	m := openTestMySQL(t)
	newVersion(10, 1<<10, 1<<10).put(t, m)
	newVersion(20, 1<<10, 1<<10).put(t, m)
	cases := []struct {
		name  string
		stmts []string // run with the log index as their one argument
		want  string
	}{
		// Allowed by the old check (> 0 only): a 256 MiB buffer for a few KiB.
		{"chunk_size above the maximum", []string{"UPDATE router SET chunk_size = 268435457 WHERE complete_index = ?"},
			"chunk_size 268435457 is above the 268435456 maximum"},
		// A store whose column was widened: OpenState died in
		// make([]byte, chunk_size) ("makeslice: len out of range"; with
		// 1<<40 the process runs out of memory, which is not recoverable).
		{"huge chunk_size in a widened column", []string{
			"ALTER TABLE router MODIFY `chunk_size` BIGINT NOT NULL DEFAULT 0",
			"UPDATE router SET chunk_size = 1125899906842624, state_size = 10 WHERE complete_index = ?"},
			"chunk_size 1125899906842624 is above the 268435456 maximum"},
		{"zero chunk_size", []string{"UPDATE router SET chunk_size = 0 WHERE complete_index = ?"}, "chunk_size 0 is not positive"},
		{"negative state_size", []string{"UPDATE router SET state_size = -1 WHERE complete_index = ?"}, "state_size -1 is negative"},
		{"negative snapshot_size", []string{"UPDATE router SET snapshot_size = -4611686018427387904 WHERE complete_index = ?"},
			"snapshot_size -4611686018427387904 is negative"},
		// chunk_id is an INT: no stream has more than 2^31 chunks.
		{"state_size of more chunks than chunk_id numbers", []string{"UPDATE router SET chunk_size = 1, state_size = 1099511627776 WHERE complete_index = ?"},
			"state_size 1099511627776 is 1099511627776 chunks of 1 bytes, more than the 2147483648 a stream can have"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			index := uint64(1200 + i)
			newVersion(index, 200<<10, 100<<10).put(t, m)
			for _, stmt := range c.stmts {
				var args []any
				if strings.Contains(stmt, "?") {
					args = append(args, index)
				}
				if _, err := m.db.Exec(stmt, args...); err != nil {
					t.Fatal(err)
				}
			}
			refusedRecord(t, m, index, "table router", c.want)
		})
	}
	// Retain keeps the newest good version, deletes the older one, and
	// leaves the corrupt rows for an operator to look at.
	if err := m.Retain(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if got := listIndexes(t, m); !equalIndexes(got, []uint64{20}) {
		t.Errorf("List after Retain(1): %v, want [20]", got)
	}
	var complete int
	if err := m.db.QueryRow("SELECT COUNT(*) FROM router WHERE complete_index IS NOT NULL").Scan(&complete); err != nil {
		t.Fatal(err)
	}
	if complete != 1+len(cases) {
		t.Errorf("%d complete rows after Retain(1), want %d: version 20 and the corrupt ones", complete, 1+len(cases))
	}
}

// TestMySQLChunkLongerThanChunkSizeIsRefused: a chunk row longer than the
// chunk size is refused at that chunk, before any of it is handed out, and
// without fetching it: the driver's buffer is sized by the row it receives.
func TestMySQLChunkLongerThanChunkSizeIsRefused(t *testing.T) {
	m := openTestMySQL(t)
	v := newVersion(1500, 200<<10, 100<<10) // chunks 0-2 full, 3 is 8 KiB
	v.put(t, m)
	var id string
	if err := m.db.QueryRow("SELECT state_id FROM router WHERE complete_index = 1500").Scan(&id); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		chunk int
		data  []byte
	}{
		{3, testData(1, testChunk+1)}, // the short last one, now longer than a chunk
		{1, testData(2, 8<<20)},
		{0, append(append([]byte{}, v.state[:testChunk]...), 'x')},
	} {
		if _, err := m.db.Exec("UPDATE states SET data = ?, data_size = ? WHERE id = ? AND chunk_id = ?", c.data, len(c.data), id, c.chunk); err != nil {
			t.Fatal(err)
		}
		var got []byte
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := catching(func() (err error) {
			got, err = readAll(t, m.OpenState, 1500)
			return err
		})
		runtime.ReadMemStats(&after)
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.Chunk != c.chunk || !strings.Contains(err.Error(), "index 1500") ||
			!strings.Contains(err.Error(), fmt.Sprintf("%d bytes stored, more than the chunk size %d", len(c.data), testChunk)) {
			t.Errorf("chunk %d: %v; want a CorruptError naming the chunk and its length", c.chunk, err)
		}
		// The good chunks, read into a slice that grows: a few times them.
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 4<<20 {
			t.Errorf("chunk %d of %d bytes: reading allocated %d bytes: it fetched the chunk", c.chunk, len(c.data), grew)
		}
		t.Logf("chunk %d of %d bytes: %v (%d bytes allocated)", c.chunk, len(c.data), err, after.TotalAlloc-before.TotalAlloc)
		if want := v.state[:c.chunk*testChunk]; !bytes.Equal(got, want) {
			t.Errorf("chunk %d: read %d bytes before the error, want the %d of the good chunks", c.chunk, len(got), len(want))
		}
	}
}
