package main

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/api"
)

func TestTimeFlag(t *testing.T) {
	now := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		ago  bool
		want time.Time // zero: an error
	}{
		{"2026-01-02T03:04:05Z", false, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
		{"2026-01-02T03:04:05+02:00", true, time.Date(2026, 1, 2, 1, 4, 5, 0, time.UTC)},
		{"1h", true, now.Add(-time.Hour)},
		{"90m", true, now.Add(-90 * time.Minute)},
		{"1h", false, time.Time{}},
		{"-1h", true, time.Time{}},
		{"yesterday", true, time.Time{}},
		{"2026-01-02", true, time.Time{}},
	} {
		f := &timeFlag{now: func() time.Time { return now }, ago: tc.ago}
		err := f.Set(tc.in)
		switch {
		case tc.want.IsZero() && err == nil:
			t.Errorf("Set(%q, ago=%v) = %v, want an error", tc.in, tc.ago, f.t)
		case !tc.want.IsZero() && (err != nil || !f.t.Equal(tc.want)):
			t.Errorf("Set(%q, ago=%v) = %v, %v; want %v", tc.in, tc.ago, f.t, err, tc.want)
		}
	}
}

func TestTargetsFlag(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want *api.Target // nil: an error
	}{
		{"slack:#ops", &api.Target{Channel: "slack", To: "#ops"}},
		{"email/failure:a@example.com,b@example.com", &api.Target{Channel: "email", To: "a@example.com,b@example.com", On: "failure"}},
		{"callback/success:https://example.com/hook", &api.Target{Channel: "callback", To: "https://example.com/hook", On: "success"}},
		{"log:", &api.Target{Channel: "log"}},
		{"slack", nil},
		{":x", nil},
		{"email/sometimes:x", nil},
	} {
		var f targetsFlag
		err := f.Set(tc.in)
		switch {
		case tc.want == nil && err == nil:
			t.Errorf("Set(%q) = %+v, want an error", tc.in, f)
		case tc.want != nil && (err != nil || len(f) != 1 || f[0] != *tc.want):
			t.Errorf("Set(%q) = %+v, %v; want %+v", tc.in, f, err, *tc.want)
		}
	}
}
