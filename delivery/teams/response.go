package teams

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/delivery/httppost"
)

// legacyStatus is how a legacy connector's 200 names the status Teams
// answered it with: "… returned HTTP error 429 with ContextId …".
const legacyStatus = "HTTP error "

// bodyError reads a 2xx response: nil when its body is empty (Workflows'
// 202), "1" (a legacy connector's 200) or JSON; else the error a legacy
// connector reported inside its 200, classified by the HTTP status the
// text names, and transient when it names none.
func bodyError(resp *httppost.Response) error {
	b := bytes.TrimSpace(resp.Body)
	if len(b) == 0 || string(b) == "1" || json.Valid(b) {
		return nil
	}
	err := fmt.Errorf("%s: status %d with a failure in the body: %s", what, resp.StatusCode, httppost.Excerpt(b))
	if code, ok := embeddedStatus(b); ok && permanentStatus(code) {
		return delivery.Permanent(err)
	}
	return err
}

// embeddedStatus finds the HTTP status in a legacy connector's failure
// text.
func embeddedStatus(b []byte) (int, bool) {
	i := bytes.Index(b, []byte(legacyStatus))
	if i < 0 {
		return 0, false
	}
	rest := b[i+len(legacyStatus):]
	if len(rest) < 3 || len(rest) > 3 && rest[3] >= '0' && rest[3] <= '9' {
		return 0, false
	}
	code, err := strconv.Atoi(string(rest[:3]))
	if err != nil || code < 100 || code > 599 {
		return 0, false
	}
	return code, true
}

// permanentStatus reports whether an HTTP error status says the message
// was refused for good, by httppost's rules: a 4xx other than 408, 425 and
// 429.
func permanentStatus(code int) bool {
	if code < 400 {
		return false
	}
	err := httppost.StatusError(what, code, http.Header{}, nil, time.Time{})
	return delivery.IsPermanent(err)
}
