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
	"path"
	"regexp"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// MaxBodyDefault is a source's body limit unless it sets one: 1 MiB.
const MaxBodyDefault = 1 << 20

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
	// Logger receives rejections (source, reason, never a secret or the
	// body); nil means none.
	Logger log.Logger
}

// Handler is the http.Handler of webhook sources: mount it so that the
// source's name is the last element of the path (for example at
// "POST /v1/webhooks/{source}" on an http.ServeMux, or under a prefix).
//
// It answers 200 {"received":true,"event_id":…,"run_id":…,"duplicate":…};
// 400 for a bad source name, 401 when verification fails, 404 for an
// unknown source, 405 for a method other than POST, 413 for a body over
// the source's limit, and 503 when the sink (or a verifier's key fetch)
// fails, so that the sender retries. Errors are application/problem+json
// and never echo the body or a secret.
type Handler struct {
	sources map[string]*Source
	sink    Sink
	logger  log.Logger

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
	h := &Handler{sources: map[string]*Source{}, sink: cfg.Sink, logger: cfg.Logger, rejected: map[rejectionKey]*atomic.Int64{}}
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
	name := r.PathValue("source")
	if name == "" {
		name = path.Base(r.URL.Path)
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
	ev := &Event{Source: name, DeliveryID: deliveryID(src, v, r.Header, body), Headers: keep(r.Header, src.KeepHeaders),
		Body: body, Agent: src.Agent, Owner: src.Owner}
	rc, err := h.sink.Accept(r.Context(), ev)
	if err != nil {
		level.Error(h.logger).Log("msg", "webhook not recorded", "source", name, "delivery_id", ev.DeliveryID, "err", err)
		h.reject(w, name, "unavailable", http.StatusServiceUnavailable, "the delivery could not be recorded; retry later")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"received": true, "event_id": rc.EventID, "run_id": rc.RunID, "duplicate": rc.Duplicate})
}

// deliveryID is the scheme's id, else the configured header's, else a hash
// of the body.
func deliveryID(src *Source, v *Verified, header http.Header, body []byte) string {
	if v.DeliveryID != "" {
		return v.DeliveryID
	}
	if src.DeliveryIDHeader != "" {
		if id := header.Get(src.DeliveryIDHeader); id != "" {
			return id
		}
	}
	sum := sha256.Sum256(body)
	return "sha256:" + hex.EncodeToString(sum[:])
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

// reject answers a problem and counts it.
func (h *Handler) reject(w http.ResponseWriter, source, reason string, status int, detail string) {
	h.count(source, reason)
	if status != http.StatusServiceUnavailable {
		level.Info(h.logger).Log("msg", "webhook rejected", "source", source, "reason", reason, "status", status)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	writeJSONStatus(w, status, map[string]any{"type": "about:blank", "title": http.StatusText(status), "status": status, "detail": detail})
}

func (h *Handler) count(source, reason string) {
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
	// Source is empty for requests naming no valid source.
	Source string
	// Reason is a verification Reason, or one of bad_source,
	// unknown_source, method, too_large, read_body, verifier_unavailable
	// and unavailable.
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
