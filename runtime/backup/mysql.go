package backup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math"
	mathrand "math/rand/v2"
	"net"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/br2k/br2k/runtime/config"
)

// MySQL is the "mysql" storage: br2k-was's tables router (one row per
// version), states and snapshot (one row per chunk of the state and of the
// etcd snapshot, data in a LONGBLOB), with the columns verification needs
// added; MySQLSchema has the DDL.
//
// A Put inserts the router row first (the chunks' foreign keys point at it),
// with complete_index NULL, then one row per chunk, each in its own
// statement, so that no statement or transaction grows with the stream.
// Its last transaction checks that every chunk row is there and sets
// router.complete_index to the log index: only rows with complete_index set
// are versions, so a crash at any earlier point leaves a partial attempt and
// nothing that looks complete. complete_index is UNIQUE (NULLs do not
// collide), so one index has at most one complete version even when two
// Puts race. Reading fetches one chunk row per query: never the whole blob
// set, and no result set held open while a slow consumer reads. Deleting a
// version (or attempt) is one transaction that locks its router row first.
type MySQL struct {
	db           *sql.DB
	where        string // host/database, for errors; no user, no password
	maxChunk     int    // the largest chunk max_allowed_packet lets through
	defaultChunk int

	noCleanup bool // tests: a failed Put leaves its partial attempt, as a crash would
}

// Configuration keys, for errors.
const (
	keyHost     = "state-config.backup-storage-auth.host"
	keyUser     = "state-config.backup-storage-auth.user"
	keyPassword = "state-config.backup-storage-auth.password"
	keyDatabase = "state-config.backup-storage-auth.database"
)

// packetMargin is what a chunk's statement or result row needs beside the
// chunk itself (the other columns, packet headers), generously.
const packetMargin = 16 << 10

// Table names, br2k-was's.
const (
	tableRouter   = "router"
	tableStates   = "states"
	tableSnapshot = "snapshot"
)

type sqlColumn struct{ name, def string }

// sqlKey is an index or constraint; name is how information_schema knows it
// ("PRIMARY" for the primary key).
type sqlKey struct{ name, def string }

type sqlTable struct {
	name, comment string
	columns       []sqlColumn
	keys          []sqlKey
}

// schema is the tables, in creation order. The first columns of each are
// br2k-was's (and router.content_hash that of templates/schema.sql.tmpl);
// the rest are what verification needs. Columns br2k adds have defaults, so
// that they can be added to tables that already hold rows: rows br2k did not
// write then have log_index 0, and Retain leaves them alone.
var schema = []sqlTable{
	{
		name: tableRouter, comment: "router",
		columns: []sqlColumn{
			{"index", "INT NOT NULL AUTO_INCREMENT COMMENT 'row number (br2k-was); the log index is log_index'"},
			{"id", "VARCHAR(45) NOT NULL COMMENT 'backup access key (backup-access-key in the registry record)'"},
			{"state_id", "VARCHAR(45) NOT NULL COMMENT 'states.id of the service state chunks'"},
			{"snapshot_id", "VARCHAR(45) NOT NULL COMMENT 'snapshot.id of the etcd snapshot chunks'"},
			{"content_hash", "CHAR(64) NOT NULL COMMENT 'SHA-256 (hex) of the whole service state'"},
			{"log_index", "BIGINT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'log index the state is at; 0 on rows br2k did not write'"},
			{"version", "BIGINT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'backup sequence number 1, 2, ...; set on completion'"},
			{"chunk_size", "INT NOT NULL DEFAULT 0 COMMENT 'bytes per chunk; the last chunk of a stream may be shorter'"},
			{"state_size", "BIGINT NOT NULL DEFAULT 0 COMMENT 'bytes of service state'"},
			{"snapshot_size", "BIGINT NOT NULL DEFAULT 0 COMMENT 'bytes of etcd snapshot; set on completion'"},
			{"snapshot_hash", "CHAR(64) NULL COMMENT 'SHA-256 (hex) of the whole etcd snapshot; set on completion'"},
			{"created", "DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) COMMENT 'when the upload started, UTC'"},
			{"complete_index", "BIGINT UNSIGNED NULL COMMENT 'log_index, set by the last statement of the upload once every chunk is stored; NULL: a partial attempt'"},
		},
		keys: []sqlKey{
			{"PRIMARY", "PRIMARY KEY (`index`, `id`)"},
			{"router_state_id", "UNIQUE KEY `router_state_id` (`state_id`)"},
			{"router_snapshot_id", "UNIQUE KEY `router_snapshot_id` (`snapshot_id`)"},
			{"router_complete_index", "UNIQUE KEY `router_complete_index` (`complete_index`)"},
			{"router_log_index", "KEY `router_log_index` (`log_index`)"},
		},
	},
	chunkTable(tableStates, "state_id"),
	chunkTable(tableSnapshot, "snapshot_id"),
}

func chunkTable(name, routerColumn string) sqlTable {
	fk := fmt.Sprintf("FK_%s_id_router_%s", name, routerColumn)
	return sqlTable{
		name: name, comment: name,
		columns: []sqlColumn{
			{"id", fmt.Sprintf("VARCHAR(45) NOT NULL COMMENT 'router.%s'", routerColumn)},
			{"chunk_id", "INT NOT NULL COMMENT 'chunk number, from 0'"},
			{"data", "LONGBLOB NOT NULL COMMENT 'chunk data'"},
			{"data_size", "INT NOT NULL DEFAULT 0 COMMENT 'bytes in data'"},
			{"data_sha256", "CHAR(64) NOT NULL DEFAULT '' COMMENT 'SHA-256 (hex) of data'"},
		},
		keys: []sqlKey{
			{"PRIMARY", "PRIMARY KEY (`id`, `chunk_id`)"},
			{fk, fmt.Sprintf("CONSTRAINT `%s` FOREIGN KEY (`id`) REFERENCES router (`%s`) ON DELETE RESTRICT ON UPDATE RESTRICT", fk, routerColumn)},
		},
	}
}

func (t sqlTable) create() string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS `%s` (\n", t.name)
	for _, c := range t.columns {
		fmt.Fprintf(&b, "  `%s` %s,\n", c.name, c.def)
	}
	for i, k := range t.keys {
		sep := ",\n"
		if i == len(t.keys)-1 {
			sep = "\n"
		}
		fmt.Fprintf(&b, "  %s%s", k.def, sep)
	}
	fmt.Fprintf(&b, ") ENGINE=InnoDB COMMENT='%s'", t.comment)
	return b.String()
}

// MySQLSchema returns the DDL OpenMySQL runs (each statement ends in ";"),
// for operators who create the tables themselves.
func MySQLSchema() string {
	var b strings.Builder
	for _, t := range schema {
		b.WriteString(t.create())
		b.WriteString(";\n")
	}
	return b.String()
}

// OpenMySQL connects to the database auth names and creates the tables if
// missing, or adds the columns and keys br2k needs to existing ones (created
// by templates/schema.sql.tmpl or br2k-was). The database itself must exist.
// Errors name the configuration key to look at and never hold the password.
func OpenMySQL(ctx context.Context, auth config.BackupStorageAuth) (*MySQL, error) {
	if auth.Host == "" {
		return nil, fmt.Errorf("backup: %s: required for backup-storage-type %q", keyHost, config.BackupMySQL)
	}
	if auth.Database == "" {
		return nil, fmt.Errorf("backup: %s: required for backup-storage-type %q", keyDatabase, config.BackupMySQL)
	}
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr = "tcp", hostPort(auth.Host)
	if strings.HasPrefix(auth.Host, "/") {
		cfg.Net, cfg.Addr = "unix", auth.Host
	}
	cfg.User, cfg.Passwd, cfg.DBName = auth.User, auth.Password.Reveal(), auth.Database
	cfg.ParseTime, cfg.Loc = true, time.UTC
	cfg.Timeout = 10 * time.Second
	cfg.MaxAllowedPacket = 0 // ask the server, so the driver's limit is the server's
	// The driver prints what it also returns ("unexpected EOF" on a
	// dropped connection) to stderr; the errors reach the replica's log.
	cfg.Logger = quietLogger{}
	// A connector, not a DSN string: the password is never in a string that
	// could end up in an error or a log.
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("backup: mysql %s: %w", auth.Host, err)
	}
	m := &MySQL{db: sql.OpenDB(connector), where: auth.Host + "/" + auth.Database}
	if err := m.connect(ctx, auth); err != nil {
		m.db.Close()
		return nil, err
	}
	return m, nil
}

func (m *MySQL) connect(ctx context.Context, auth config.BackupStorageAuth) error {
	if err := m.db.PingContext(ctx); err != nil {
		return connectError(auth, err)
	}
	var maxPacket int
	if err := m.db.QueryRowContext(ctx, "SELECT @@max_allowed_packet").Scan(&maxPacket); err != nil {
		return fmt.Errorf("backup: mysql %s: reading @@max_allowed_packet: %w", m.where, err)
	}
	m.maxChunk = maxPacket - packetMargin
	if m.maxChunk < 1<<10 {
		return fmt.Errorf("backup: mysql %s: max_allowed_packet is %d bytes, too small for chunks; raise the server's max_allowed_packet", m.where, maxPacket)
	}
	// The default chunk: DefaultChunkSize, or the largest power of two
	// below the server's limit (MySQL 5.7's default max_allowed_packet is
	// exactly 4 MiB, which a 4 MiB chunk plus its row does not fit).
	m.defaultChunk = DefaultChunkSize
	for m.defaultChunk > m.maxChunk {
		m.defaultChunk /= 2
	}
	return m.ensureSchema(ctx)
}

func hostPort(host string) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), "3306")
}

// connectError says which configuration key a failure to connect points
// at. MySQL's messages name the user and host, never the password.
func connectError(auth config.BackupStorageAuth, err error) error {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1045: // ER_ACCESS_DENIED_ERROR
			return fmt.Errorf("backup: mysql %s: access denied for %s %q: check %s (or %s): %w",
				auth.Host, keyUser, auth.User, keyPassword, config.EnvBackupPassword, err)
		case 1044: // ER_DBACCESS_DENIED_ERROR
			return fmt.Errorf("backup: mysql %s: %s %q may not use %s %q: %w", auth.Host, keyUser, auth.User, keyDatabase, auth.Database, err)
		case 1049: // ER_BAD_DB_ERROR
			return fmt.Errorf("backup: mysql %s: %s %q does not exist (create it; br2k creates only the tables): %w", auth.Host, keyDatabase, auth.Database, err)
		}
	}
	return fmt.Errorf("backup: mysql: cannot connect to %s %q: %w", keyHost, auth.Host, err)
}

// ensureSchema creates the tables, or adds what is missing to existing
// ones. Concurrent replicas may race here: an "already there" error from
// the loser is success.
func (m *MySQL) ensureSchema(ctx context.Context) error {
	for _, t := range schema {
		if _, err := m.db.ExecContext(ctx, t.create()); err != nil {
			return fmt.Errorf("backup: mysql %s: creating table %s: %w", m.where, t.name, err)
		}
		have, err := m.strings(ctx, "SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ?", t.name)
		if err != nil {
			return fmt.Errorf("backup: mysql %s: reading the columns of table %s: %w", m.where, t.name, err)
		}
		for _, c := range t.columns {
			if have[strings.ToLower(c.name)] {
				continue
			}
			stmt := fmt.Sprintf("ALTER TABLE `%s` ADD COLUMN `%s` %s", t.name, c.name, c.def)
			if _, err := m.db.ExecContext(ctx, stmt); err != nil && !isMySQLError(err, 1060) { // ER_DUP_FIELDNAME
				return fmt.Errorf("backup: mysql %s: adding column %s.%s: %w", m.where, t.name, c.name, err)
			}
		}
		have, err = m.strings(ctx, `SELECT index_name FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = ?
			UNION SELECT constraint_name FROM information_schema.table_constraints WHERE table_schema = DATABASE() AND table_name = ?`, t.name, t.name)
		if err != nil {
			return fmt.Errorf("backup: mysql %s: reading the keys of table %s: %w", m.where, t.name, err)
		}
		for _, k := range t.keys {
			if have[strings.ToLower(k.name)] {
				continue
			}
			stmt := fmt.Sprintf("ALTER TABLE `%s` ADD %s", t.name, k.def)
			// ER_DUP_KEYNAME, ER_MULTIPLE_PRI_KEY, ER_FK_DUP_NAME, ER_DUP_KEY
			if _, err := m.db.ExecContext(ctx, stmt); err != nil && !isMySQLError(err, 1061, 1068, 1826, 1022) {
				return fmt.Errorf("backup: mysql %s: adding key %s to table %s: %w", m.where, k.name, t.name, err)
			}
		}
	}
	return nil
}

// strings returns the first column of a query's rows, lowercased.
func (m *MySQL) strings(ctx context.Context, query string, args ...any) (map[string]bool, error) {
	rows, err := m.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out[strings.ToLower(s)] = true
	}
	return out, rows.Err()
}

func isMySQLError(err error, numbers ...uint16) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	for _, n := range numbers {
		if me.Number == n {
			return true
		}
	}
	return false
}

// row is a router row.
type row struct {
	index           int64 // router.index, not the log index
	stateID, snapID string
	meta            Meta
}

// routerFields are table router's names of the size fields.
var routerFields = sizeFields{chunk: "chunk_size", state: "state_size", etcd: "snapshot_size"}

// maxRowChunks is how many chunks a stream can have: chunk_id is an INT.
const maxRowChunks = math.MaxInt32 + 1

// check returns a *CorruptError if r's sizes are unusable (checkSizes):
// r is then not a version to list or read, whatever its complete_index.
func (m *MySQL) check(r row) error {
	if err := checkSizes(r.meta, routerFields, maxRowChunks); err != nil {
		return &CorruptError{Index: r.meta.Index, Stream: streamManifest, Chunk: -1,
			Where: fmt.Sprintf("table router, id %s, on %s", r.meta.AccessKey, m.where), Detail: err.Error()}
	}
	return nil
}

const rowColumns = "`index`, `state_id`, `snapshot_id`, `id`, `log_index`, `version`, `state_size`, `content_hash`, " +
	"`snapshot_size`, COALESCE(`snapshot_hash`, ''), `chunk_size`, `created`"

func (m *MySQL) rows(ctx context.Context, where string, args ...any) ([]row, error) {
	rs, err := m.db.QueryContext(ctx, "SELECT "+rowColumns+" FROM `router` WHERE "+where, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []row
	for rs.Next() {
		var r row
		mt := &r.meta
		if err := rs.Scan(&r.index, &r.stateID, &r.snapID, &mt.AccessKey, &mt.Index, &mt.Version, &mt.StateSize, &mt.StateSHA256,
			&mt.EtcdSize, &mt.EtcdSHA256, &mt.ChunkSize, &mt.Created); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rs.Err()
}

// Put implements Storage.
func (m *MySQL) Put(ctx context.Context, meta Meta, state, etcd io.Reader) (Meta, error) {
	meta, err := prepare(meta, m.defaultChunk)
	if err != nil {
		return Meta{}, err
	}
	if meta.ChunkSize > m.maxChunk {
		return Meta{}, fmt.Errorf("backup: put index %d: chunk size %d does not fit the server's max_allowed_packet (%d bytes; chunks up to %d): lower Meta.ChunkSize or raise max_allowed_packet on %s",
			meta.Index, meta.ChunkSize, m.maxChunk+packetMargin, m.maxChunk, m.where)
	}
	if rs, err := m.rows(ctx, "`complete_index` = ?", meta.Index); err != nil {
		return Meta{}, fmt.Errorf("backup: put index %d: table router on %s: %w", meta.Index, m.where, err)
	} else if len(rs) > 0 {
		if err := m.check(rs[0]); err != nil {
			return Meta{}, fmt.Errorf("backup: put index %d: a version is there already, and: %w", meta.Index, err)
		}
		return rs[0].meta, fmt.Errorf("%w: index %d, table router on %s, id %s", ErrExists, meta.Index, m.where, rs[0].meta.AccessKey)
	}
	// A retry replaces what an earlier attempt at this index left. Best
	// effort: what is left does not stand in the way (only complete rows
	// are unique), and Retain removes it.
	m.removePartials(ctx, "`log_index` = ?", meta.Index)

	key := randomHex(16) // 32 hex digits, as br2k-was's access keys
	r := row{stateID: "state-" + key, snapID: "snapshot-" + key}
	res, err := m.db.ExecContext(ctx, "INSERT INTO `router` (`id`, `state_id`, `snapshot_id`, `content_hash`, `log_index`, `chunk_size`, `state_size`, `created`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		key, r.stateID, r.snapID, meta.StateSHA256, meta.Index, meta.ChunkSize, meta.StateSize, meta.Created)
	if err == nil {
		r.index, err = res.LastInsertId()
	}
	if err != nil {
		return Meta{}, fmt.Errorf("backup: put index %d: inserting into table router on %s: %w", meta.Index, m.where, err)
	}
	meta.AccessKey = key
	out, err := m.put(ctx, meta, r, state, etcd)
	if err != nil {
		if !m.noCleanup {
			cctx, cancel := cleanupContext(ctx)
			m.remove(cctx, r, true) // best effort: Retain and a retry remove it too
			cancel()
		}
		if errors.Is(err, ErrExists) { // completed by another Put meanwhile
			if rs, lerr := m.rows(ctx, "`complete_index` = ?", meta.Index); lerr == nil && len(rs) > 0 {
				if cerr := m.check(rs[0]); cerr != nil {
					return Meta{}, fmt.Errorf("backup: put index %d: a version is there already, and: %w", meta.Index, cerr)
				}
				return rs[0].meta, err
			}
		}
		return Meta{}, err
	}
	return out, nil
}

func (m *MySQL) put(ctx context.Context, meta Meta, r row, state, etcd io.Reader) (Meta, error) {
	buf := make([]byte, meta.ChunkSize)
	size, sum, err := m.putStream(ctx, meta.Index, tableStates, r.stateID, io.LimitReader(state, meta.StateSize+1), buf)
	if err != nil {
		return Meta{}, err
	}
	if err := checkState(meta, size, sum); err != nil {
		return Meta{}, err
	}
	meta.EtcdSize, meta.EtcdSHA256, err = m.putStream(ctx, meta.Index, tableSnapshot, r.snapID, etcd, buf)
	if err != nil {
		return Meta{}, err
	}
	if err := m.completeRetrying(ctx, &meta, r); err != nil {
		return Meta{}, fmt.Errorf("backup: put index %d: completing router row %d on %s: %w", meta.Index, r.index, m.where, err)
	}
	return meta, nil
}

// putStream inserts r's chunks into table under id.
func (m *MySQL) putStream(ctx context.Context, index uint64, table, id string, r io.Reader, buf []byte) (int64, string, error) {
	stream := StreamState
	if table == tableSnapshot {
		stream = StreamEtcd
	}
	stmt, err := m.db.PrepareContext(ctx, "INSERT INTO `"+table+"` (`id`, `chunk_id`, `data`, `data_size`, `data_sha256`) VALUES (?, ?, ?, ?, ?)")
	if err != nil {
		return 0, "", fmt.Errorf("backup: put index %d: table %s on %s: %w", index, table, m.where, err)
	}
	defer stmt.Close()
	size, sum, err := putChunks(ctx, stream, r, buf, func(n int, data []byte, sum string) error {
		if _, err := stmt.ExecContext(ctx, id, n, data, len(data), sum); err != nil {
			return fmt.Errorf("inserting %s chunk %d into table %s on %s: %w", stream, n, table, m.where, err)
		}
		return nil
	})
	if err != nil {
		return 0, "", fmt.Errorf("backup: put index %d: %w", index, err)
	}
	return size, sum, nil
}

// completeRetrying runs complete, again if it was a deadlock victim.
func (m *MySQL) completeRetrying(ctx context.Context, meta *Meta, r row) error {
	version := meta.Version
	return retryDeadlocks(ctx, func() error {
		meta.Version = version
		return m.complete(ctx, meta, r)
	})
}

// complete is the commit point of a Put: in one transaction, check that
// every chunk row is there, number the version, and set complete_index.
func (m *MySQL) complete(ctx context.Context, meta *Meta, r row) error {
	tx, err := m.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // after Commit, a no-op
	for _, c := range []struct {
		table, id string
		size      int64
	}{{tableStates, r.stateID, meta.StateSize}, {tableSnapshot, r.snapID, meta.EtcdSize}} {
		var n, size int64
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*), COALESCE(SUM(`data_size`), 0) FROM `"+c.table+"` WHERE `id` = ?", c.id).Scan(&n, &size); err != nil {
			return err
		}
		if want := chunkCount(c.size, meta.ChunkSize); n != want || size != c.size {
			return fmt.Errorf("table %s holds %d chunks of %d bytes for id %s, want %d of %d", c.table, n, size, c.id, want, c.size)
		}
	}
	if meta.Version == 0 {
		// FOR UPDATE: concurrent completions wait for each other here and
		// so get distinct numbers.
		if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(`version`), 0) + 1 FROM `router` WHERE `complete_index` IS NOT NULL FOR UPDATE").Scan(&meta.Version); err != nil {
			return err
		}
	}
	res, err := tx.ExecContext(ctx, "UPDATE `router` SET `version` = ?, `snapshot_size` = ?, `snapshot_hash` = ?, `complete_index` = `log_index` WHERE `index` = ? AND `complete_index` IS NULL",
		meta.Version, meta.EtcdSize, meta.EtcdSHA256, r.index)
	if isMySQLError(err, 1062) { // ER_DUP_ENTRY on router_complete_index
		return fmt.Errorf("%w: index %d (completed by another Put meanwhile)", ErrExists, meta.Index)
	}
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n != 1 {
		return errors.New("the row is gone (removed by Retain or by a Put of the same index elsewhere)")
	}
	return tx.Commit()
}

// List implements Storage. A complete row whose sizes are unusable is not
// listed (OpenState and OpenEtcd on it return a *CorruptError), as the file
// storage does not list a version whose manifest is unusable.
func (m *MySQL) List(ctx context.Context) ([]Meta, error) {
	rs, err := m.completeRows(ctx)
	if err != nil {
		return nil, fmt.Errorf("backup: list: table router on %s: %w", m.where, err)
	}
	metas := make([]Meta, len(rs))
	for i, r := range rs {
		metas[i] = r.meta
	}
	return metas, nil
}

// completeRows returns the complete rows whose sizes are usable, newest
// first.
func (m *MySQL) completeRows(ctx context.Context) ([]row, error) {
	rs, err := m.rows(ctx, "`complete_index` IS NOT NULL ORDER BY `complete_index` DESC")
	if err != nil {
		return nil, err
	}
	ok := rs[:0]
	for _, r := range rs {
		if m.check(r) == nil {
			ok = append(ok, r)
		}
	}
	return ok, nil
}

// OpenState implements Storage.
func (m *MySQL) OpenState(ctx context.Context, index uint64) (io.ReadCloser, error) {
	return m.open(ctx, index, StreamState)
}

// OpenEtcd implements Storage.
func (m *MySQL) OpenEtcd(ctx context.Context, index uint64) (io.ReadCloser, error) {
	return m.open(ctx, index, StreamEtcd)
}

func (m *MySQL) open(ctx context.Context, index uint64, stream string) (io.ReadCloser, error) {
	rs, err := m.rows(ctx, "`complete_index` = ?", index)
	if err != nil {
		return nil, fmt.Errorf("backup: version at index %d: table router on %s: %w", index, m.where, err)
	}
	if len(rs) == 0 {
		return nil, fmt.Errorf("%w: index %d, table router on %s", ErrNotFound, index, m.where)
	}
	r := rs[0]
	table, id, size, sum := tableStates, r.stateID, r.meta.StateSize, r.meta.StateSHA256
	if stream == StreamEtcd {
		table, id, size, sum = tableSnapshot, r.snapID, r.meta.EtcdSize, r.meta.EtcdSHA256
	}
	if err := m.check(r); err != nil {
		return nil, err
	}
	// At most MaxChunkSize: check checked the sizes.
	buf := make([]byte, r.meta.ChunkSize)
	// A chunk longer than the chunk size is not sent, only its length: the
	// driver's buffer for the row is sized by what the server sends.
	query := "SELECT IF(LENGTH(`data`) <= ?, `data`, NULL), COALESCE(LENGTH(`data`), 0), `data_size`, `data_sha256` FROM `" + table + "` WHERE `id` = ? AND `chunk_id` = ?"
	fetch := func(ctx context.Context, n, want int) (chunk, error) {
		rows, err := m.db.QueryContext(ctx, query, len(buf), id, n)
		if err != nil {
			return chunk{}, err
		}
		defer rows.Close()
		if !rows.Next() {
			if err := rows.Err(); err != nil {
				return chunk{}, err
			}
			return chunk{}, fmt.Errorf("%w: no row", errBadChunk)
		}
		// RawBytes points into the driver's buffer: copied into buf, so
		// that a chunk costs no allocation of its size.
		var data sql.RawBytes
		var length int64
		var c chunk
		if err := rows.Scan(&data, &length, &c.size, &c.sum); err != nil {
			return chunk{}, err
		}
		if length > int64(len(buf)) || len(data) > len(buf) {
			return chunk{}, fmt.Errorf("%w: %d bytes stored, more than the chunk size %d", errBadChunk, max(length, int64(len(data))), len(buf))
		}
		c.data = buf[:copy(buf, data)]
		return c, rows.Close()
	}
	where := fmt.Sprintf("table %s, id %s, on %s", table, id, m.where)
	return newVerifier(ctx, index, stream, where, size, sum, r.meta.ChunkSize, fetch, nil), nil
}

// Retain implements Storage. It counts and deletes the versions List
// returns: a complete row whose sizes are unusable is left alone, as the
// file storage leaves a version whose manifest is unusable.
func (m *MySQL) Retain(ctx context.Context, n int) error {
	if n < 1 {
		return fmt.Errorf("backup: retain %d: must keep at least 1 version", n)
	}
	rs, err := m.completeRows(ctx)
	if err != nil {
		return fmt.Errorf("backup: retain: table router on %s: %w", m.where, err)
	}
	for _, r := range rs[min(n, len(rs)):] {
		if err := m.remove(ctx, r, false); err != nil {
			return fmt.Errorf("backup: retain: %w", err)
		}
	}
	if err := m.removePartials(ctx, "`log_index` > 0"); err != nil {
		return fmt.Errorf("backup: retain: %w", err)
	}
	return nil
}

// removePartials removes the partial attempts that where selects.
func (m *MySQL) removePartials(ctx context.Context, where string, args ...any) error {
	rs, err := m.rows(ctx, "`complete_index` IS NULL AND "+where, args...)
	if err != nil {
		return fmt.Errorf("table router on %s: %w", m.where, err)
	}
	for _, r := range rs {
		if err := m.remove(ctx, r, true); err != nil {
			return err
		}
	}
	return nil
}

// remove deletes a router row and its chunks in one transaction: an error
// or a crash leaves the version or attempt as it was, never a version with
// chunks missing. The row is locked first, so a Put still inserting chunks
// for it waits at its foreign key check and then fails, rather than adding
// chunks behind the deletion's back. With partialOnly, a row that completed
// since it was listed is left alone.
func (m *MySQL) remove(ctx context.Context, r row, partialOnly bool) error {
	err := retryDeadlocks(ctx, func() error {
		tx, err := m.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback() // after Commit, a no-op
		var complete bool
		err = tx.QueryRowContext(ctx, "SELECT `complete_index` IS NOT NULL FROM `router` WHERE `index` = ? FOR UPDATE", r.index).Scan(&complete)
		if errors.Is(err, sql.ErrNoRows) || err == nil && partialOnly && complete {
			return nil
		}
		if err != nil {
			return err
		}
		for _, q := range []struct {
			query string
			arg   any
		}{
			{"DELETE FROM `states` WHERE `id` = ?", r.stateID},
			{"DELETE FROM `snapshot` WHERE `id` = ?", r.snapID},
			{"DELETE FROM `router` WHERE `index` = ?", r.index},
		} {
			if _, err := tx.ExecContext(ctx, q.query, q.arg); err != nil {
				return err
			}
		}
		return tx.Commit()
	})
	if err != nil {
		return fmt.Errorf("deleting the version at index %d (router row %d, id %s) on %s: %w", r.meta.Index, r.index, r.meta.AccessKey, m.where, err)
	}
	return nil
}

// retryDeadlocks runs f until it is not a deadlock victim (or a lock wait
// timed out), at most 10 times. InnoDB picks victims among concurrent
// transactions on the same rows (completions, whose locking reads of router
// take gap locks that their UPDATEs then wait for; deletions); the victim's
// transaction is rolled back whole and can simply run again.
func retryDeadlocks(ctx context.Context, f func() error) error {
	for attempt := 1; ; attempt++ {
		err := f()
		if attempt == 10 || !isMySQLError(err, 1213, 1205) { // ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT
			return err
		}
		select {
		case <-time.After(time.Duration(attempt*(5+mathrand.IntN(10))) * time.Millisecond):
		case <-ctx.Done():
			return err
		}
	}
}

// Close implements Storage.
func (m *MySQL) Close() error { return m.db.Close() }

// quietLogger drops the driver's own log lines.
type quietLogger struct{}

func (quietLogger) Print(...any) {}
