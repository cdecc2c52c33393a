package templates

import (
	"bytes"
	"go/format"
	"go/parser"
	"go/token"
	"io/fs"
	"strings"
	"testing"

	"github.com/br2k/br2k/internal/testmysql"
	"github.com/br2k/br2k/runtime/config"
)

var scaffold = Scaffold{
	Package:    "counter",
	Name:       "Counter",
	ImportPath: "example.com/svc/counter",
	Module:     "example.com/svc",
	PeerSecret: "0123456789abcdef0123456789abcdef",
	GoVersion:  "1.26",
	ID:         "counter",
}

func TestEveryTemplateRenders(t *testing.T) {
	names, err := fs.Glob(FS, "*")
	if err != nil || len(names) < 5 {
		t.Fatalf("templates: %v %v", names, err)
	}
	for _, name := range names {
		out, err := Render(name, scaffold)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if bytes.Contains(out, []byte("<no value>")) || bytes.Contains(out, []byte("{{")) {
			t.Errorf("%s: unexpanded template text:\n%s", name, out)
		}
		if strings.HasSuffix(name, ".go.tmpl") {
			if _, err := parser.ParseFile(token.NewFileSet(), name, out, parser.ParseComments); err != nil {
				t.Errorf("%s does not parse: %v", name, err)
			}
			if formatted, err := format.Source(out); err != nil || !bytes.Equal(formatted, out) {
				t.Errorf("%s is not gofmt-clean (%v)", name, err)
			}
		}
	}
}

func TestRenderReportsMissingData(t *testing.T) {
	if _, err := Render("service.go.tmpl", struct{ Package string }{"x"}); err == nil {
		t.Error("rendering with missing fields succeeded")
	}
	if _, err := Render("nope.tmpl", scaffold); err == nil {
		t.Error("rendering a missing template succeeded")
	}
}

func TestServiceTemplateHasTheDirectives(t *testing.T) {
	out, err := Render("service.go.tmpl", scaffold)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"//go:generate go run github.com/br2k/br2k/cmd/br2kgen", "//br2k:state\ntype Counter struct", "//br2k:replicate POST", "//br2k:onlyonce GET"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("service.go.tmpl lacks %q", want)
		}
	}
}

// The sample must be a valid configuration: it is what a new service starts
// from.
func TestConfigSampleIsAValidConfiguration(t *testing.T) {
	out, err := Render("config.sample.json", scaffold)
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.Parse(out, "config.sample.json")
	if err != nil {
		t.Fatalf("config.Parse: %v", err)
	}
	if c.ServiceRegistry.ID != "counter" || c.Etcd.Prefix != "/br2k/counter/" || c.Etcd.Embed == nil || c.StateConfig.VersionUpSize != 50000 {
		t.Errorf("parsed %+v", c)
	}
	for _, key := range []string{`"replica"`, `"advertise-url"`, `"peer-listen"`, `"peer-secret"`, `"quota-backend-bytes"`, `"endpoints"`, `"session-ttl"`, `"initial-cluster-state"`,
		`"service-registry"`, `"access-perm"`, `"private-key"`, `"json-interface-path"`, `"state-config"`, `"version-up-size"`,
		`"max-state-version"`, `"state-mode"`, `"backup-storage-type"`, `"backup-storage-auth"`, `"webpack-config"`, `"dist"`} {
		if !bytes.Contains(out, []byte(key)) {
			t.Errorf("sample lacks key %s", key)
		}
	}
}

// TestSchemaCreatesTheBackupTables runs the schema twice against the local
// MariaDB (root, no password, as on the development and CI machines), in a
// database of its own.
func TestSchemaCreatesTheBackupTables(t *testing.T) {
	schema, err := Render("schema.sql.tmpl", nil)
	if err != nil {
		t.Fatal(err)
	}
	dbName := testmysql.Database(t)
	db := testmysql.Open(t, dbName)
	for i := 0; i < 2; i++ { // IF NOT EXISTS: running it again is harmless
		if _, err := db.Exec(string(schema)); err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
	}
	got := testmysql.Columns(t, db, dbName)
	want := []string{
		"router.index int(11)", "router.id varchar(45)", "router.state_id varchar(45)", "router.snapshot_id varchar(45)", "router.content_hash char(64)",
		"snapshot.id varchar(45)", "snapshot.chunk_id int(11)", "snapshot.data longblob",
		"states.id varchar(45)", "states.chunk_id int(11)", "states.data longblob",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("columns:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The foreign keys hold: a state chunk needs its router row.
	if _, err := db.Exec("INSERT INTO states (id, chunk_id, data) VALUES ('s1', 0, 'x')"); err == nil {
		t.Error("a state chunk without a router row was accepted")
	}
	if _, err := db.Exec("INSERT INTO router (id, state_id, snapshot_id, content_hash) VALUES ('v1', 's1', 'e1', REPEAT('0', 64))"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO states (id, chunk_id, data) VALUES ('s1', 0, 'x'), ('s1', 1, 'y')"); err != nil {
		t.Errorf("state chunks with a router row: %v", err)
	}
}
