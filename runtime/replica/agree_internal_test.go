package replica

import "testing"

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
