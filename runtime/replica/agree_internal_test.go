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
