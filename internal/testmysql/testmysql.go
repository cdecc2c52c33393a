// Package testmysql gives tests a MariaDB database of their own on the
// development and CI machines' server (127.0.0.1:3306, root, no password),
// dropped when the test ends.
package testmysql

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/br2k/br2k/runtime/config"
)

// Host is the MariaDB of the development and CI machines.
const Host = "127.0.0.1:3306"

// Database creates a database of its own for t, dropped when t ends, and
// returns its name. It skips t when MariaDB is not there, unless
// BR2K_REQUIRE_MYSQL is set (CI), which makes that a failure.
func Database(t testing.TB) string {
	t.Helper()
	admin := Admin(t)
	name := "br2k_test_" + randomHex(6)
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE " + name); err != nil {
			t.Errorf("dropping %s: %v", name, err)
		}
	})
	return name
}

// Admin is a root connection to the server (no database chosen), closed
// when t ends; it skips or fails t as Database does when MariaDB is not
// there.
func Admin(t testing.TB) *sql.DB {
	t.Helper()
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr, cfg.Timeout = "root", "tcp", Host, 3*time.Second
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	if err := admin.Ping(); err != nil {
		if os.Getenv("BR2K_REQUIRE_MYSQL") == "1" {
			t.Fatalf("MariaDB is not reachable at %s as root (%v), and BR2K_REQUIRE_MYSQL is set", Host, err)
		}
		t.Skipf("MariaDB is not reachable at %s as root (%v); start it to run this test (CI sets BR2K_REQUIRE_MYSQL=1)", Host, err)
	}
	return admin
}

// Auth is the backup-storage-auth of database on Host (through addr
// instead when addr is not empty: a proxy in front of the server).
func Auth(database, addr string) config.BackupStorageAuth {
	if addr == "" {
		addr = Host
	}
	return config.BackupStorageAuth{Host: addr, User: "root", Database: database}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Open is a connection to database on Host (multiple statements allowed,
// for schema scripts), closed when t ends.
func Open(t testing.TB, database string) *sql.DB {
	t.Helper()
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr, cfg.DBName, cfg.MultiStatements = "root", "tcp", Host, database, true
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Columns lists database's columns as "table.column type", by table and
// then column order.
func Columns(t testing.TB, db *sql.DB, database string) []string {
	t.Helper()
	rows, err := db.Query(`SELECT table_name, column_name, column_type FROM information_schema.columns
		WHERE table_schema = ? ORDER BY table_name, ordinal_position`, database)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var table, column, typ string
		if err := rows.Scan(&table, &column, &typ); err != nil {
			t.Fatal(err)
		}
		got = append(got, table+"."+column+" "+typ)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}
