package slack

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf16"

	"github.com/heraldhq/herald/delivery"
)

// Slack's limits, in characters (counted here as UTF-16 code units).
const (
	// headerLimit bounds a header block's plain_text.
	headerLimit = 150
	// sectionLimit bounds a section block's text.
	sectionLimit = 3000
	// textLimit bounds the top-level text. Slack refuses 40,000 and
	// advises at most 4,000; it is a notification's fallback, so the
	// advice is followed.
	textLimit = 4000
)

// contentType is the media type of every post; chat.postMessage warns
// when the charset is missing.
const contentType = "application/json; charset=utf-8"

// metadataEventType is the event type of the message metadata that
// chat.postMessage carries.
const metadataEventType = "herald_delivery"

// ellipsis ends a cut text; it is one UTF-16 code unit.
const ellipsis = "…"

// payload is the JSON body of a post: the fields incoming webhooks and
// chat.postMessage share, then chat.postMessage's own.
type payload struct {
	Channel     string    `json:"channel,omitempty"`
	Text        string    `json:"text"`
	Blocks      []block   `json:"blocks,omitempty"`
	UnfurlLinks *bool     `json:"unfurl_links,omitempty"`
	UnfurlMedia *bool     `json:"unfurl_media,omitempty"`
	Metadata    *metadata `json:"metadata,omitempty"`
}

// block is a header or a section block.
type block struct {
	Type string     `json:"type"`
	Text textObject `json:"text"`
}

// textObject is a Block Kit text object.
type textObject struct {
	Type string `json:"type"` // plain_text or mrkdwn
	Text string `json:"text"`
}

// metadata is chat.postMessage's message metadata.
type metadata struct {
	EventType    string       `json:"event_type"`
	EventPayload eventPayload `json:"event_payload"`
}

// eventPayload is the metadata's payload: what a receiver needs to
// deduplicate.
type eventPayload struct {
	IdempotencyKey string `json:"idempotency_key"`
	RunID          string `json:"run_id"`
}

// newPayload is the message of m, for either kind of post: a header with
// the subject, a section with the text, and the two as the fallback text.
func newPayload(m *delivery.Message) *payload {
	subject := oneLine(m.Subject)
	if subject == "" {
		subject = oneLine("herald: run " + m.RunID + " " + m.Status)
	}
	text := strings.TrimSpace(m.Text)
	p := &payload{Blocks: []block{{
		Type: "header",
		Text: textObject{Type: "plain_text", Text: fit(subject, headerLimit, false)},
	}}}
	fallback := subject
	if text != "" {
		p.Blocks = append(p.Blocks, block{
			Type: "section",
			Text: textObject{Type: "mrkdwn", Text: fit(text, sectionLimit, true)},
		})
		fallback += "\n" + text
	}
	p.Text = fit(fallback, textLimit, true)
	return p
}

// encode is p as JSON, without HTML escaping (Slack's own escaping is
// done already).
func encode(p *payload) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// oneLine is s with every run of white space, new lines included, turned
// into one space, and no space at either end: a header is one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// fit is s, with &, < and > escaped for mrkdwn when escape is set, cut to
// at most limit UTF-16 code units. A cut never splits a character or an
// escape, drops the white space before it, and ends with an ellipsis.
func fit(s string, limit int, escape bool) string {
	type piece struct {
		s string
		n int // UTF-16 code units
	}
	pieces := make([]piece, 0, len(s))
	total := 0
	for _, r := range s {
		p := piece{s: string(r), n: max(utf16.RuneLen(r), 1)}
		if escape {
			switch r {
			case '&':
				p = piece{"&amp;", 5}
			case '<':
				p = piece{"&lt;", 4}
			case '>':
				p = piece{"&gt;", 4}
			}
		}
		pieces = append(pieces, p)
		total += p.n
	}
	var b strings.Builder
	if total <= limit {
		for _, p := range pieces {
			b.WriteString(p.s)
		}
		return b.String()
	}
	room := limit - 1 // the ellipsis is one code unit
	for _, p := range pieces {
		if p.n > room {
			break
		}
		b.WriteString(p.s)
		room -= p.n
	}
	return strings.TrimRightFunc(b.String(), unicode.IsSpace) + ellipsis
}
