package teams_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a goroutine outlives them: every
// test server is closed, with its client's idle connections, in t.Cleanup.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
