package callback

import (
	"strings"
	"testing"

	"github.com/heraldhq/herald/delivery"
)

// TestSignVector checks the signature against the Standard Webhooks
// specification's published test vector.
func TestSignVector(t *testing.T) {
	d, err := New(Config{Secrets: []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}})
	if err != nil {
		t.Fatal(err)
	}
	got := d.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("sign = %q, want %q", got, want)
	}
}

func TestMessageID(t *testing.T) {
	for _, tc := range []struct {
		key, run, want string
	}{
		{"0193a000-0000-7000-8000-000000000001-0a1b2c3d", "r", "0193a000-0000-7000-8000-000000000001-0a1b2c3d"},
		{"", "run_1", "run_1"},
		{"", "", ""},
		{"run/1/http://x.test", "r", "msg_"},
	} {
		got := messageID(&delivery.Message{IdempotencyKey: tc.key, RunID: tc.run})
		if tc.want == "msg_" {
			if !strings.HasPrefix(got, "msg_") || strings.ContainsAny(got, "./:") || got != messageID(&delivery.Message{IdempotencyKey: tc.key}) {
				t.Errorf("messageID(%q) = %q, want a stable msg_ hash", tc.key, got)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("messageID(%q, %q) = %q, want %q", tc.key, tc.run, got, tc.want)
		}
	}
}
