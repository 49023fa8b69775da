package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/heraldhq/herald/delivery"
)

// MaxBodyDefault is a source's body limit unless it sets one: 1 MiB.
const MaxBodyDefault = 1 << 20

// MaxDeliveryIDDefault is the longest delivery id a Handler hands to its
// sink unless configured otherwise: 200 bytes, the most Herald's stores
// keep.
const MaxDeliveryIDDefault = 200

// bodyHashIDLen is the length of a delivery id made from the body's hash
// ("sha256:" and 64 hex digits), the shortest limit a Handler accepts.
const bodyHashIDLen = len("sha256:") + 2*sha256.Size

// sourceName is what a source's name must match.
var sourceName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Event is a verified delivery, handed to the Sink.
type Event struct {
	// Source is the source's name.
	Source string
	// DeliveryID identifies the delivery: (Source, DeliveryID) is unique.
	DeliveryID string
	// Headers are the request headers the source keeps.
	Headers map[string][]string
	// Body is the raw request body.
	Body []byte
	// Agent and Owner are the source's: the run's agent and owner.
	Agent string
	Owner string
	// Targets are the source's: where the run's result is delivered.
	Targets []delivery.Target
}

// SourceChecker is an optional capability of a Sink, found with a type
// assertion: NewHandler hands it each source, so that a source the sink
// could never serve (an agent or a delivery channel it does not know) is
// refused when the handler is built, not answered 503 on every delivery
// while the sender retries a permanent mistake.
type SourceChecker interface {
	// CheckSource returns an error saying what is wrong with src, naming
	// the field ("Agent", "Targets[0].Channel").
	CheckSource(src Source) error
}

// Receipt is what the Sink made of an event.
type Receipt struct {
	EventID string
	RunID   string
	// Duplicate is set when the delivery was accepted before: the ids are
	// the original ones and nothing new was written.
	Duplicate bool
}

// Sink records a verified event and enqueues its run, in one step and
// idempotently on (Source, DeliveryID). When it fails, it must have
// written nothing, so that the sender's retry succeeds.
type Sink interface {
	Accept(ctx context.Context, e *Event) (*Receipt, error)
}

// ErrInvalidEvent matches a Sink's refusal of an event that can never be
// accepted as it is (see InvalidEventError).
var ErrInvalidEvent = errors.New("webhook: invalid event")

// InvalidEventError is how a Sink refuses an event for good: input that
// breaks a rule of the sink's, so that the same delivery would be refused
// again however often it were retried. The Handler answers it 400 naming
// what the sender sent (the delivery id's header, the body) and the rule,
// and the sender stops retrying. Any other error from a Sink is taken as
// transient and answered 503. It matches ErrInvalidEvent.
type InvalidEventError struct {
	// Field names the Event field refused: "DeliveryID", "Body",
	// "Headers" or "Source", which the Handler names as the sender knows
	// them; any other name is passed on as it is.
	Field string
	// Rule says what the field must be, as in "must be at most 200
	// bytes". It is shown to the sender: it must hold no secret and no
	// part of the body.
	Rule string
}

// Error implements error.
func (e *InvalidEventError) Error() string {
	return "webhook: invalid event: " + e.Field + " " + e.Rule
}

// Is reports whether target is ErrInvalidEvent.
func (e *InvalidEventError) Is(target error) bool { return target == ErrInvalidEvent }

// SinkFunc adapts a function to Sink.
type SinkFunc func(ctx context.Context, e *Event) (*Receipt, error)

// Accept implements Sink.
func (f SinkFunc) Accept(ctx context.Context, e *Event) (*Receipt, error) { return f(ctx, e) }

// Source is one webhook sender, served at …/{Name}.
type Source struct {
	// Name matches ^[a-z0-9][a-z0-9-]{0,62}$. Required.
	Name string
	// Verifier checks its requests. Required: use Insecure explicitly to
	// accept unsigned ones.
	Verifier Verifier
	// Agent and Owner are those of the runs it starts. Required.
	Agent string
	Owner string
	// Targets receive the results of the runs it starts.
	Targets []delivery.Target
	// MaxBody bounds a request body in bytes; zero means MaxBodyDefault.
	MaxBody int64
	// DeliveryIDHeader names the header that identifies a delivery when
	// the scheme has no id of its own; when empty (or absent from the
	// request) the id is "sha256:" and the hex SHA-256 of the body.
	DeliveryIDHeader string
	// KeepHeaders are the request headers kept with the event (and handed
	// to the agent); canonicalized. Empty keeps Content-Type and
	// User-Agent.
	KeepHeaders []string
}

// HandlerConfig configures a Handler.
type HandlerConfig struct {
	// Sources are the senders served. At least one; names are unique.
	Sources []Source
	// Sink records events and enqueues their runs. Required.
	Sink Sink
	// MaxDeliveryID bounds a delivery id in bytes: a longer one is
	// refused with 400, naming the header it came from, before the sink
	// is called. Zero means MaxDeliveryIDDefault, the limit of Herald's
	// stores; otherwise it must be at least 71, the length of an id made
	// from the body's hash.
	MaxDeliveryID int
	// Logger receives rejections (source, reason, never a secret or the
	// body); nil means none.
	Logger log.Logger
}

// Handler is the http.Handler of webhook sources. Mount it in one of three
// ways; a request whose path does not fit is refused, never routed by a
// guess.
//
// At a ServeMux pattern with a {source} wildcard, the source is the
// wildcard's value:
//
//	mux.Handle("POST /v1/webhooks/{source}", h)
//
// At a ServeMux subtree pattern of fixed segments, the path must be the
// pattern's path followed by the source's name and nothing else, as
// /hooks/github:
//
//	mux.Handle("POST /hooks/", h)
//
// Behind http.StripPrefix (or another router that strips its prefix from
// the request's path), or as a server's whole handler, the path it is
// handed must be "/" followed by the source's name and nothing else, as
// /github:
//
//	mux.Handle("/hooks/", http.StripPrefix("/hooks", h))
//
// Without a {source} wildcard the path is read as sent (escaped): a path
// with another segment, a trailing slash, a dot segment or a
// percent-encoded slash is answered 404, and a percent-encoded name 400.
//
// It answers
//
//   - 200 {"received":true,"event_id":…,"run_id":…,"duplicate":…}, or the
//     verifier's reply (Slack's url_verification challenge);
//   - 400 for a bad source name, a body that cannot be read, a delivery id
//     longer than HandlerConfig.MaxDeliveryID, or an event the sink
//     refuses as invalid (ErrInvalidEvent), naming the header or field at
//     fault and the rule: retrying the same delivery cannot succeed;
//   - 401 when verification fails;
//   - 404 for an unknown source, or a path that names no source;
//   - 405 for a method other than POST;
//   - 413 for a body over the source's limit;
//   - 503 when the sink fails otherwise (the store is unavailable, a
//     timeout, any other error) or a verifier cannot check the request
//     now (a key fetch fails): nothing was recorded, and the sender
//     retries.
//
// Errors are application/problem+json and never echo the body or a
// secret.
type Handler struct {
	sources       map[string]*Source
	sink          Sink
	maxDeliveryID int
	logger        log.Logger

	mu       sync.Mutex
	rejected map[rejectionKey]*atomic.Int64
}

type rejectionKey struct{ source, reason string }

// NewHandler checks cfg and returns its Handler.
func NewHandler(cfg HandlerConfig) (*Handler, error) {
	if cfg.Sink == nil {
		return nil, errors.New("webhook: handler: Sink is required")
	}
	if len(cfg.Sources) == 0 {
		return nil, errors.New("webhook: handler: at least one source is required")
	}
	switch {
	case cfg.MaxDeliveryID == 0:
		cfg.MaxDeliveryID = MaxDeliveryIDDefault
	case cfg.MaxDeliveryID < bodyHashIDLen:
		return nil, fmt.Errorf("webhook: handler: MaxDeliveryID %d must be zero or at least %d (the length of an id made from the body's hash)", cfg.MaxDeliveryID, bodyHashIDLen)
	}
	h := &Handler{sources: map[string]*Source{}, sink: cfg.Sink, maxDeliveryID: cfg.MaxDeliveryID, logger: cfg.Logger,
		rejected: map[rejectionKey]*atomic.Int64{}}
	if h.logger == nil {
		h.logger = log.NewNopLogger()
	}
	for i, src := range cfg.Sources {
		field := fmt.Sprintf("Sources[%d]", i)
		switch {
		case !sourceName.MatchString(src.Name):
			return nil, fmt.Errorf("webhook: handler: %s.Name %q must match %s", field, src.Name, sourceName)
		case h.sources[src.Name] != nil:
			return nil, fmt.Errorf("webhook: handler: %s.Name %q is declared twice", field, src.Name)
		case src.Verifier == nil:
			return nil, fmt.Errorf("webhook: handler: %s.Verifier is required (use Insecure() to accept unsigned requests)", field)
		case src.Agent == "":
			return nil, fmt.Errorf("webhook: handler: %s.Agent is required", field)
		case src.Owner == "":
			return nil, fmt.Errorf("webhook: handler: %s.Owner is required", field)
		case src.MaxBody < 0:
			return nil, fmt.Errorf("webhook: handler: %s.MaxBody must not be negative", field)
		}
		if c, ok := cfg.Sink.(SourceChecker); ok {
			if err := c.CheckSource(src); err != nil {
				return nil, fmt.Errorf("webhook: handler: %s (%s): %w", field, src.Name, err)
			}
		}
		s := src
		if s.MaxBody == 0 {
			s.MaxBody = MaxBodyDefault
		}
		if len(s.KeepHeaders) == 0 {
			s.KeepHeaders = []string{"Content-Type", "User-Agent"}
		}
		for j, k := range s.KeepHeaders {
			s.KeepHeaders[j] = http.CanonicalHeaderKey(k)
		}
		h.sources[s.Name] = &s
	}
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := routeSource(r)
	if !ok {
		h.reject(w, "", "bad_path", http.StatusNotFound, "no webhook source at this path")
		return
	}
	if !sourceName.MatchString(name) {
		h.reject(w, "", "bad_source", http.StatusBadRequest, "the source name must match "+sourceName.String())
		return
	}
	src := h.sources[name]
	if src == nil {
		h.reject(w, name, "unknown_source", http.StatusNotFound, "no webhook source of that name")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.reject(w, name, "method", http.StatusMethodNotAllowed, "webhooks are POSTed")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, src.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.reject(w, name, "too_large", http.StatusRequestEntityTooLarge, fmt.Sprintf("the body exceeds %d bytes", src.MaxBody))
			return
		}
		h.reject(w, name, "read_body", http.StatusBadRequest, "the body could not be read")
		return
	}
	v, err := src.Verifier.Verify(r.Context(), r.Header, body)
	if err != nil {
		var ve *VerificationError
		if errors.As(err, &ve) {
			h.reject(w, name, string(ve.Reason), http.StatusUnauthorized, ve.Error())
			return
		}
		level.Error(h.logger).Log("msg", "webhook verifier failed", "source", name, "err", err)
		h.reject(w, name, "verifier_unavailable", http.StatusServiceUnavailable, "the request could not be verified now; retry later")
		return
	}
	if v == nil {
		v = &Verified{}
	}
	if v.Reply != nil {
		w.Header().Set("Content-Type", v.ReplyType)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(v.Reply)
		return
	}
	id, idHeader := deliveryID(src, v, r.Header, body)
	if len(id) > h.maxDeliveryID {
		h.refuse(w, name, idHeader, &InvalidEventError{Field: "DeliveryID", Rule: fmt.Sprintf("must be at most %d bytes", h.maxDeliveryID)})
		return
	}
	ev := &Event{Source: name, DeliveryID: id, Headers: keep(r.Header, src.KeepHeaders),
		Body: body, Agent: src.Agent, Owner: src.Owner, Targets: src.Targets}
	rc, err := h.sink.Accept(r.Context(), ev)
	if errors.Is(err, ErrInvalidEvent) {
		h.refuse(w, name, idHeader, err)
		return
	}
	if err != nil {
		level.Error(h.logger).Log("msg", "webhook not recorded", "source", name, "delivery_id", ev.DeliveryID, "err", err)
		h.reject(w, name, "unavailable", http.StatusServiceUnavailable, "the delivery could not be recorded; retry later")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"received": true, "event_id": rc.EventID, "run_id": rc.RunID, "duplicate": rc.Duplicate})
}

// deliveryID is the scheme's id, else the configured header's, else a hash
// of the body; with the name of the header it came from, if it did.
func deliveryID(src *Source, v *Verified, header http.Header, body []byte) (id, from string) {
	if v.DeliveryID != "" {
		return v.DeliveryID, v.DeliveryIDHeader
	}
	if src.DeliveryIDHeader != "" {
		if id := header.Get(src.DeliveryIDHeader); id != "" {
			return id, src.DeliveryIDHeader
		}
	}
	sum := sha256.Sum256(body)
	return "sha256:" + hex.EncodeToString(sum[:]), ""
}

// refuse answers 400 to an event that can never be accepted as it is:
// err matches ErrInvalidEvent; idHeader names the header the delivery id
// came from, if it did. The problem names the field as the sender knows
// it and the rule; the log adds the error, never the id or the body.
func (h *Handler) refuse(w http.ResponseWriter, source, idHeader string, err error) {
	field, rule := "", "is invalid"
	var ie *InvalidEventError
	if errors.As(err, &ie) {
		field = ie.Field
		if ie.Rule != "" {
			rule = ie.Rule
		}
	}
	h.reject(w, source, "invalid_event", http.StatusBadRequest, senderField(field, idHeader)+" "+rule, "field", field, "err", err)
}

// senderField names an Event field as its sender knows it.
func senderField(field, idHeader string) string {
	switch field {
	case "DeliveryID":
		if idHeader != "" {
			return "the delivery id (header " + idHeader + ")"
		}
		return "the delivery id"
	case "Body":
		return "the body"
	case "Headers":
		return "the headers"
	case "Source":
		return "the source name"
	case "":
		return "the event"
	}
	return field
}

func keep(header http.Header, names []string) map[string][]string {
	out := map[string][]string{}
	for _, n := range names {
		if vs := header.Values(n); len(vs) > 0 {
			out[n] = append([]string(nil), vs...)
		}
	}
	return out
}

// reject answers a problem and counts it; kv are added to the log line.
func (h *Handler) reject(w http.ResponseWriter, source, reason string, status int, detail string, kv ...any) {
	h.count(source, reason)
	if status != http.StatusServiceUnavailable {
		level.Info(h.logger).Log(append([]any{"msg", "webhook rejected", "source", source, "reason", reason, "status", status}, kv...)...)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	writeJSONStatus(w, status, map[string]any{"type": "about:blank", "title": http.StatusText(status), "status": status, "detail": detail})
}

// count counts a rejection. Requests naming no configured source are
// counted under the empty source, whatever name they sent: the sender
// chooses it, and the counts must stay bounded.
func (h *Handler) count(source, reason string) {
	if h.sources[source] == nil {
		source = ""
	}
	k := rejectionKey{source, reason}
	h.mu.Lock()
	c := h.rejected[k]
	if c == nil {
		c = &atomic.Int64{}
		h.rejected[k] = c
	}
	h.mu.Unlock()
	c.Add(1)
}

// Rejection counts the rejected requests of one source for one reason.
type Rejection struct {
	// Source is empty for requests naming no configured source.
	Source string
	// Reason is a verification Reason, or one of bad_path, bad_source,
	// unknown_source, method, too_large, read_body, invalid_event,
	// verifier_unavailable and unavailable.
	Reason string
	Count  int64
}

// Rejections returns the rejection counts so far, by source and reason.
func (h *Handler) Rejections() []Rejection {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Rejection, 0, len(h.rejected))
	for k, c := range h.rejected {
		out = append(out, Rejection{Source: k.source, Reason: k.reason, Count: c.Load()})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Source != out[j].Source {
			return out[i].Source < out[j].Source
		}
		return out[i].Reason < out[j].Reason
	})
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	writeJSONStatus(w, status, v)
}

func writeJSONStatus(w http.ResponseWriter, status int, v any) {
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
