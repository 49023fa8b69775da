package backfill_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(envKillChild) != "" {
		os.Exit(killChild())
	}
	goleak.VerifyTestMain(m)
}
