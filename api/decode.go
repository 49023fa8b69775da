package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// decode reads r's JSON body into v: at most a.maxBody bytes (else 413),
// with a JSON media type (else 415), one JSON object with no unknown
// fields and no trailing data (else 400 naming the field). A request with
// no body decodes nothing when optional is set.
func (a *API) decode(w http.ResponseWriter, r *http.Request, v any, optional bool) *Problem {
	body, p := a.readBody(w, r)
	if p != nil {
		return p
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if optional {
			return nil
		}
		return invalidField("body", "must be a JSON object")
	}
	if p := checkJSONType(r); p != nil {
		return p
	}
	return decodeJSON(body, v)
}

// readBody reads r's body within a.maxBody.
func (a *API) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *Problem) {
	if r.ContentLength > a.maxBody {
		return nil, tooLarge(a.maxBody)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge(a.maxBody)
		}
		return nil, invalidField("body", "could not be read")
	}
	return body, nil
}

func tooLarge(max int64) *Problem {
	return problem(http.StatusRequestEntityTooLarge, problemTooLarge, fmt.Sprintf("the body must be at most %d bytes", max))
}

// checkJSONType refuses a body whose Content-Type is not JSON.
func checkJSONType(r *http.Request) *Problem {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return problem(http.StatusUnsupportedMediaType, problemMediaType, "the body must be JSON: send Content-Type: application/json")
	}
	return nil
}

// decodeJSON decodes one JSON object from body into v.
func decodeJSON(body []byte, v any) *Problem {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonProblem(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalidField("body", "must hold one JSON object and nothing after it")
	}
	return nil
}

// jsonProblem says what is wrong with a body encoding/json refused.
func jsonProblem(err error) *Problem {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return invalidField("body", "is not valid JSON (at byte %d)", se.Offset)
	case errors.As(err, &te):
		if te.Field == "" {
			return invalidField("body", "must be a JSON object")
		}
		return invalidField(te.Field, "must be %s, not %s", jsonType(te.Type.Kind().String()), te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return invalidField("body", "is not valid JSON (it ends early)")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return invalidField(name, "is not a field of this request")
	}
	return invalidField("body", "is not valid JSON")
}

// jsonType names a Go kind as a JSON type.
func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	}
	return "a number"
}

// Duration is a time.Duration written as a Go duration string ("15m",
// "1h30m", "1.5s") in JSON.
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON implements json.Unmarshaler, for clients that read the
// API's answers with this package's types.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// parseDuration reads a duration field of a request.
func parseDuration(errs *[]FieldError, field string, s *string) time.Duration {
	if s == nil || *s == "" {
		return 0
	}
	d, err := time.ParseDuration(*s)
	if err != nil {
		*errs = append(*errs, FieldError{Field: field, Message: fmt.Sprintf(`must be a duration such as "15m" or "1h30m", not %q`, truncate(*s, 40))})
	}
	return d
}

// parseTime reads an RFC 3339 field of a request.
func parseTime(errs *[]FieldError, field string, s *string) time.Time {
	if s == nil || *s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		*errs = append(*errs, FieldError{Field: field, Message: "must be an RFC 3339 time such as 2026-01-02T15:04:05Z"})
	}
	return t
}

// truncate cuts s to n bytes for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// query reads the URL's query parameters, checking each as it goes and
// collecting every error.
type query struct {
	v    map[string][]string
	errs []FieldError
}

func newQuery(r *http.Request, allowed ...string) *query {
	q := &query{v: r.URL.Query()}
	ok := map[string]bool{}
	for _, k := range allowed {
		ok[k] = true
	}
	for k := range q.v {
		if !ok[k] {
			q.errs = append(q.errs, FieldError{Field: k, Message: "is not a parameter of this request; allowed: " + strings.Join(allowed, ", ")})
		}
	}
	return q
}

// str returns the parameter's value, bounded to max bytes.
func (q *query) str(name string, max int) string {
	vs := q.v[name]
	if len(vs) == 0 {
		return ""
	}
	if len(vs) > 1 {
		q.errs = append(q.errs, FieldError{Field: name, Message: "must be given once"})
		return ""
	}
	if len(vs[0]) > max {
		q.errs = append(q.errs, FieldError{Field: name, Message: fmt.Sprintf("must be at most %d bytes", max)})
		return ""
	}
	if !utf8.ValidString(vs[0]) || strings.ContainsFunc(vs[0], unicode.IsControl) {
		q.errs = append(q.errs, FieldError{Field: name, Message: "must be UTF-8 text without control characters"})
		return ""
	}
	return vs[0]
}

// list returns a comma-separated parameter's values.
func (q *query) list(name string, max int) []string {
	s := q.str(name, max)
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// time returns an RFC 3339 parameter.
func (q *query) time(name string) time.Time {
	s := q.str(name, 64)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		q.errs = append(q.errs, FieldError{Field: name, Message: "must be an RFC 3339 time such as 2026-01-02T15:04:05Z"})
	}
	return t
}

// limit returns the page size: 1 to maxLimit, default when absent.
func (q *query) limit() int {
	s := q.str("limit", 10)
	if s == "" {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxLimit {
		q.errs = append(q.errs, FieldError{Field: "limit", Message: fmt.Sprintf("must be a whole number from 1 to %d", maxLimit)})
		return 0
	}
	return n
}

// cursor returns the page cursor: an id, or 400.
func (q *query) cursor() string {
	s := q.str("cursor", 64)
	if s != "" && !validID(s) {
		q.errs = append(q.errs, FieldError{Field: "cursor", Message: "is not a cursor this API returned"})
		return ""
	}
	return s
}

// problem returns the errors as one problem, or nil.
func (q *query) problem() *Problem {
	if len(q.errs) == 0 {
		return nil
	}
	return invalid(q.errs...)
}
