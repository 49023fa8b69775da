package dashboard

import (
	"context"
	"errors"
	"strconv"
	"strings"
)

// contextLike is a context.Context.
type contextLike = context.Context

// asAPIError is errors.As for *apiError.
func asAPIError(err error, target **apiError) bool { return err != nil && errors.As(err, target) }

func cutSuffix(s, suffix string) (string, bool) { return strings.CutSuffix(s, suffix) }

func itoa(n int) string { return strconv.Itoa(n) }

// shortID is the last eight digits of a UUID: its random part (a UUIDv7
// begins with its time), enough to tell runs apart on a page.
func shortID(id string) string {
	if len(id) > 8 {
		return id[len(id)-8:]
	}
	return id
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
