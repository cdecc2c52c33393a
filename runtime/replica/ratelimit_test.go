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

func TestUploadBackoffDoublesFromTwoSecondsUpToItsBound(t *testing.T) {
	want := []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	for i, w := range want {
		if got := uploadBackoff(i + 1); got != w {
			t.Errorf("after %d failures: %v, want %v", i+1, got, w)
		}
	}
	if got := uploadBackoff(1 << 30); got != maxUploadBackoff {
		t.Errorf("after many failures: %v, want %v", got, maxUploadBackoff)
	}
}
