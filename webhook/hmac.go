package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// HMACHeaderDefault is the signature header of NewHMAC when its config
// names none.
const HMACHeaderDefault = "X-Signature-256"

// Encoding is how a signature header encodes the MAC.
type Encoding int

// Signature encodings.
const (
	// EncodingHex is lowercase or uppercase hex (64 digits for
	// HMAC-SHA256). The default.
	EncodingHex Encoding = iota
	// EncodingBase64 is standard base64 (RFC 4648, section 4), padded or
	// not.
	EncodingBase64
)

// String returns "hex" or "base64".
func (e Encoding) String() string {
	switch e {
	case EncodingHex:
		return "hex"
	case EncodingBase64:
		return "base64"
	}
	return fmt.Sprintf("Encoding(%d)", int(e))
}

// HMACConfig configures NewHMAC, a generic HMAC-SHA256 scheme such as
// simple in-house senders use ("X-Signature-256: sha256=<hex>"). Zero
// values mean the defaults.
type HMACConfig struct {
	// Secrets are the accepted keys, each used as its UTF-8 bytes; a
	// request passes when its signature matches any of them (rotation).
	// Required; none may be empty.
	Secrets []string
	// Header is the header holding the signature. Default
	// HMACHeaderDefault ("X-Signature-256").
	Header string
	// Prefix precedes the encoded MAC in the header value, "sha256=" say;
	// it is matched without regard to ASCII case, and a value without it
	// fails with ReasonUnknownVersion. Default "": the value is the
	// encoded MAC alone.
	Prefix string
	// Encoding is how the MAC is encoded after the prefix. Default
	// EncodingHex.
	Encoding Encoding
	// TimestampHeader, when set, names a header holding the Unix time in
	// seconds at which the sender signed: the signed content is then
	// "<timestamp>.<body>" instead of the body alone, and the timestamp
	// must be within the tolerance (WithTolerance, default
	// ToleranceDefault) of the clock, either way. Default "": the body
	// alone is signed, and nothing bounds a replay.
	TimestampHeader string
}

// HMAC verifies a generic HMAC-SHA256 signature of the body (or of
// "<timestamp>.<body>"), configured by an HMACConfig. It has no delivery
// id: configure the source's delivery id header if the sender sends one.
//
// An HMAC is safe for concurrent use.
type HMAC struct {
	keys     [][]byte
	header   string
	prefix   string
	encoding Encoding
	tsHeader string
	opts     options
}

var _ Verifier = (*HMAC)(nil)

// NewHMAC checks cfg and returns its verifier.
func NewHMAC(cfg HMACConfig, opts ...Option) (*HMAC, error) {
	keys, err := rawSecrets("hmac", cfg.Secrets)
	if err != nil {
		return nil, err
	}
	return newHMAC("hmac", keys, cfg, opts)
}

// newHMAC checks cfg, but for its Secrets, and returns its verifier
// keyed with keys.
func newHMAC(scheme string, keys [][]byte, cfg HMACConfig, opts []Option) (*HMAC, error) {
	h := &HMAC{keys: keys, header: cfg.Header, prefix: cfg.Prefix, encoding: cfg.Encoding, tsHeader: cfg.TimestampHeader, opts: newOptions(opts)}
	if h.header == "" {
		h.header = HMACHeaderDefault
	}
	if !validHeaderName(h.header) {
		return nil, fmt.Errorf("webhook: %s: Header %q is not a header name", scheme, h.header)
	}
	if h.tsHeader != "" {
		if !validHeaderName(h.tsHeader) {
			return nil, fmt.Errorf("webhook: %s: TimestampHeader %q is not a header name", scheme, h.tsHeader)
		}
		if strings.EqualFold(h.tsHeader, h.header) {
			return nil, errors.New("webhook: " + scheme + ": TimestampHeader must differ from Header")
		}
	}
	// Canonical names: they are looked up as they are, and errors name
	// them so.
	h.header = http.CanonicalHeaderKey(h.header)
	h.tsHeader = http.CanonicalHeaderKey(h.tsHeader)
	if h.encoding != EncodingHex && h.encoding != EncodingBase64 {
		return nil, fmt.Errorf("webhook: %s: unknown %v", scheme, h.encoding)
	}
	return h, nil
}

// Verify implements Verifier.
func (h *HMAC) Verify(ctx context.Context, header http.Header, body []byte) (*Verified, error) {
	value, err := headerValue(header, h.header)
	if err != nil {
		return nil, err
	}
	var ts string
	if h.tsHeader != "" {
		if ts, err = headerValue(header, h.tsHeader); err != nil {
			return nil, err
		}
	}
	if len(value) < len(h.prefix) || !strings.EqualFold(value[:len(h.prefix)], h.prefix) {
		return nil, fail(ReasonUnknownVersion, h.header, fmt.Sprintf("value does not start with %q", h.prefix))
	}
	encoded := value[len(h.prefix):]
	var mac [sha256.Size]byte
	var ok bool
	if h.encoding == EncodingBase64 {
		ok = decodeBase64Fixed(mac[:], encoded)
	} else {
		ok = decodeHexMAC(&mac, encoded)
	}
	if !ok {
		return nil, fail(ReasonMalformedHeader, h.header, "value is not a "+h.encoding.String()+" HMAC-SHA256")
	}
	if h.tsHeader != "" {
		if err := checkTimestamp(&h.opts, h.tsHeader, ts); err != nil {
			return nil, err
		}
	}
	var head []byte
	if h.tsHeader != "" {
		head = signedHead(ts, ".")
	}
	var sum [sha256.Size]byte
	for _, key := range h.keys {
		m := newMAC(key)
		m.Write(head)
		m.Write(body)
		if hmac.Equal(m.Sum(sum[:0]), mac[:]) {
			return &Verified{}, nil
		}
	}
	return nil, fail(ReasonBadSignature, h.header, "signature matches no configured secret")
}

// validHeaderName reports whether name is an HTTP field name (an RFC 9110
// token).
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
