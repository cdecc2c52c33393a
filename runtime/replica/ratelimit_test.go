package replica

import (
	"testing"
	"time"
)

func TestLogLimitLetsOneLineThroughPerPeriodAndCountsTheRest(t *testing.T) {
	l := logLimit{period: time.Hour}
	if ok, dropped := l.allow(); !ok || dropped != 0 {
		t.Fatalf("first line: %v %d", ok, dropped)
	}
	for range 5 {
		if ok, _ := l.allow(); ok {
			t.Fatal("a second line within the period got through")
		}
	}
	l.last = l.last.Add(-2 * time.Hour)
	if ok, dropped := l.allow(); !ok || dropped != 5 {
		t.Fatalf("after the period: %v, dropped %d, want true, 5", ok, dropped)
	}
}
