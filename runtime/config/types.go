package config

import (
	"encoding/json"
	"fmt"
	"time"
)

// Duration is a time.Duration written in the config file as a Go duration
// string ("100ms", "2s", "1m30s"). Numbers are rejected: a bare 5 has no unit.
type Duration struct{ time.Duration }

// MarshalJSON writes the duration as a string ("2s").
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(d.String())
}

// UnmarshalJSON reads a duration string; it lets Duration be used with
// encoding/json directly. Parse and Load use their own decoder.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf(`want a duration string like "2s", got %s`, b)
	}
	v, err := parseDuration(s)
	if err != nil {
		return fmt.Errorf(`want a duration string like "2s", got %q`, s)
	}
	*d = v
	return nil
}

// Redacted is what a non-empty Secret prints as.
const Redacted = "[redacted]"

// Secret holds a credential (private key, password). Every way of printing it
// (fmt's %v, %+v, %#v, %s, %q, encoding/json) shows Redacted, or "" when the
// secret is empty, so a logged or dumped Config never leaks it. Use Reveal to
// get the value.
type Secret struct{ s string }

// NewSecret wraps a credential.
func NewSecret(s string) Secret { return Secret{s} }

// Reveal returns the credential. Call it only where the value is used.
func (s Secret) Reveal() string { return s.s }

// IsZero reports whether the secret is empty (unset).
func (s Secret) IsZero() bool { return s.s == "" }

// String returns Redacted, or "" for an empty secret.
func (s Secret) String() string {
	if s.s == "" {
		return ""
	}
	return Redacted
}

// GoString is used by %#v.
func (s Secret) GoString() string { return fmt.Sprintf("config.Secret(%q)", s.String()) }

// Format makes every fmt verb (%x, %d, ... included) print the redacted form.
func (s Secret) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		fmt.Fprint(f, s.GoString())
	case verb == 'q':
		fmt.Fprintf(f, "%q", s.String())
	default:
		fmt.Fprint(f, s.String())
	}
}

// MarshalJSON writes the redacted form, never the value.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON reads a string; it lets Secret be used with encoding/json
// directly.
func (s *Secret) UnmarshalJSON(b []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("want a string, got %s", b)
	}
	s.s = v
	return nil
}

func parseDuration(s string) (Duration, error) {
	d, err := time.ParseDuration(s)
	return Duration{d}, err
}
