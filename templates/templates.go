// Package templates holds the text/template files br2k writes that are not
// generated Go code: the scaffold of `br2kgen init`, the MySQL schema of the
// state backup and the sample configuration. They are embedded, so the
// br2kgen binary is self-contained.
//
// Files:
//
//	service.go.tmpl     the service package: a state type and two handlers (Scaffold)
//	main.go.tmpl        a command that runs one replica of the service (Scaffold)
//	go.mod.tmpl         the go.mod of a new module, for init -module (Scaffold)
//	config.sample.json  a replica configuration with every key (Scaffold; ID is used)
//	schema.sql.tmpl     the backup tables router, states and snapshot (no data)
package templates

import (
	"bytes"
	"embed"
	"fmt"
	"text/template"
)

// FS holds the template files.
//
//go:embed *.tmpl config.sample.json
var FS embed.FS

// Scaffold is the data of the init templates.
type Scaffold struct {
	// Package is the Go package name of the service, e.g. "counter".
	Package string
	// Name is the state type's name, e.g. "Counter".
	Name string
	// ImportPath is the service package's import path.
	ImportPath string
	// Module is the module path, for go.mod.tmpl.
	Module string
	// GoVersion is the go directive of go.mod.tmpl, e.g. "1.26".
	GoVersion string
	// ID is the service id: the registry id and the etcd prefix's last
	// element, e.g. "counter".
	ID string
	// PeerSecret is the cluster secret the sample configuration carries:
	// random, made by br2kgen init, the same for every replica of the
	// service.
	PeerSecret string
}

// Render executes the template file name with data. Missing keys are
// errors, so a template and its data cannot drift apart silently.
func Render(name string, data any) ([]byte, error) {
	src, err := FS.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	t, err := template.New(name).Option("missingkey=error").Parse(string(src))
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	return buf.Bytes(), nil
}
