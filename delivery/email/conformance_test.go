package email_test

import (
	"testing"

	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/delivery/deliverytest"
	"github.com/heraldhq/herald/delivery/email"
)

func TestConformance(t *testing.T) {
	ts := newServer(t, serverConfig{username: testUser, password: testPassword})
	deliverytest.Run(t, func(t *testing.T) delivery.Deliverer {
		return newDeliverer(t, ts, email.TLSModeSTARTTLS, testUser, testPassword)
	}, deliverytest.Cases{
		Channel: "email",
		To:      "ok@example.test",
		Slow:    "slow@example.test",
		Failures: []deliverytest.Failure{
			{Name: "NoSuchUser", To: "perm@example.test", Permanent: true},
			{Name: "TryLater", To: "temp@example.test"},
			{Name: "Refused", To: "data554@example.test", Permanent: true},
			{Name: "NotAnAddress", To: "ok at example.test", Permanent: true},
		},
		Delivered: func(t *testing.T, m *delivery.Message) {
			want := email.MessageID(m.IdempotencyKey, "example.test")
			for _, r := range ts.messages() {
				if r.message.Header.Get("Message-ID") != want {
					continue
				}
				if got := r.message.Header.Get("X-Herald-Run-ID"); got != m.RunID {
					t.Errorf("message %s: X-Herald-Run-ID %q, want %q", want, got, m.RunID)
				}
				if len(r.to) != 1 || r.to[0] != m.Target.To || !r.tls || r.user != testUser {
					t.Errorf("message %s: to %q, over TLS %t, as %q; want to %q, over TLS, as %q", want, r.to, r.tls, r.user, m.Target.To, testUser)
				}
				return
			}
			t.Errorf("the server received no message with Message-ID %s (run %s)", want, m.RunID)
		},
	})
}
