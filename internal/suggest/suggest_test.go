package suggest

import "testing"

func TestDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"", "abc", 3}, {"replicat", "replicate", 1}, {"onlyOnce", "onlyonce", 1}, {"kitten", "sitting", 3}} {
		if got := Distance(tt.a, tt.b); got != tt.d || Distance(tt.b, tt.a) != tt.d {
			t.Errorf("Distance(%q, %q) = %d, want %d both ways", tt.a, tt.b, got, tt.d)
		}
	}
}

func TestClosest(t *testing.T) {
	keys := []string{"version-up-size", "state-path", "state-mode"}
	for _, tt := range []struct {
		word string
		max  int
		want string
	}{
		{"version-up-sise", 2, "version-up-size"},
		{"state-pat", 2, "state-path"},
		{"state-moth", 2, "state-mode"}, // 2 edits from state-mode, 3 from state-path
		{"state-xxxx", 2, ""},
		{"state-mod", 0, ""},
	} {
		if got := Closest(tt.word, keys, tt.max); got != tt.want {
			t.Errorf("Closest(%q, %d) = %q, want %q", tt.word, tt.max, got, tt.want)
		}
	}
	if got := Closest("ab", []string{"ax", "ay"}, 1); got != "ax" {
		t.Errorf("a tie goes to %q, want the first in order %q", got, "ax")
	}
}
