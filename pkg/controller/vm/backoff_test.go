package vm

import (
	"testing"
	"time"
)

func TestCrashBackoffDoublesAndIsForgotten(t *testing.T) {
	now := time.Unix(1000, 0)
	b := newCrashBackoff()
	b.now = func() time.Time { return now }
	var got []time.Duration
	for range 8 {
		got = append(got, b.failed("ns/vm"))
	}
	want := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 5 * time.Minute, 5 * time.Minute}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("delays %v, want %v", got, want)
		}
	}
	if d, n := b.wait("ns/vm"); d != 5*time.Minute || n != 8 {
		t.Errorf("wait = %s after %d failures", d, n)
	}
	now = now.Add(time.Hour)
	if d, _ := b.wait("ns/vm"); d != 0 {
		t.Errorf("wait after the delay = %s, want 0", d)
	}
	b.running("ns/vm", now.Add(-30*time.Second))
	if _, n := b.wait("ns/vm"); n != 8 {
		t.Errorf("30 s of running forgot the failures")
	}
	b.running("ns/vm", now.Add(-2*time.Minute))
	if _, n := b.wait("ns/vm"); n != 0 {
		t.Errorf("2 minutes of running did not forget the failures (%d)", n)
	}
}
