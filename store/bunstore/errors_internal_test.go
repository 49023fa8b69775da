package bunstore

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/heraldhq/herald/store"
)

// TestTranslateConnectionLoss: a connection that ends in the middle of an
// answer (the server crashed or was stopped at once) is the store being
// unavailable, which a caller may retry; it used to pass through as a
// plain error.
func TestTranslateConnectionLoss(t *testing.T) {
	for _, err := range []error{
		fmt.Errorf("read: %w", io.ErrUnexpectedEOF),
		fmt.Errorf("receive message: %w", io.EOF),
	} {
		if got := translate(err); !errors.Is(got, store.ErrUnavailable) || !errors.Is(got, err) {
			t.Errorf("translate(%v) = %v, want it to match store.ErrUnavailable and keep the cause", err, got)
		}
	}
}
