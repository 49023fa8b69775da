package teams

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/heraldhq/herald/delivery"
)

// Limits of the card's texts, in bytes: Teams refuses a message over
// about 28 KB.
const (
	titleLimit = 500
	textLimit  = 20_000
	errorLimit = 4_000
)

// The card's fixed values.
const (
	adaptiveCardType = "application/vnd.microsoft.card.adaptive"
	cardSchema       = "http://adaptivecards.io/schemas/adaptive-card.json"
	cardVersion      = "1.4"
)

// message is the body of a post: a message with one Adaptive Card.
type message struct {
	Type        string       `json:"type"`
	Attachments []attachment `json:"attachments"`
}

// attachment holds the card.
type attachment struct {
	ContentType string  `json:"contentType"`
	ContentURL  *string `json:"contentUrl"` // always null
	Content     card    `json:"content"`
}

// card is an Adaptive Card.
type card struct {
	Schema  string    `json:"$schema"`
	Type    string    `json:"type"`
	Version string    `json:"version"`
	Body    []element `json:"body"`
}

// element is a TextBlock or a FactSet.
type element struct {
	Type   string `json:"type"`
	Text   string `json:"text,omitempty"`
	Weight string `json:"weight,omitempty"`
	Size   string `json:"size,omitempty"`
	Color  string `json:"color,omitempty"`
	Wrap   bool   `json:"wrap,omitempty"`
	Facts  []fact `json:"facts,omitempty"`
}

// fact is one line of a FactSet.
type fact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

// newCard is the message of m: its subject as a title, its text, the
// run's status, agent and id, and its error when it did not succeed.
func newCard(m *delivery.Message) *message {
	title := strings.Join(strings.Fields(m.Subject), " ")
	if title == "" {
		title = strings.Join(strings.Fields("herald: run "+m.RunID+" "+m.Status), " ")
	}
	body := []element{{Type: "TextBlock", Text: fit(title, titleLimit), Weight: "Bolder", Size: "Medium", Wrap: true}}
	text := strings.TrimSpace(m.Text)
	if text != "" {
		body = append(body, element{Type: "TextBlock", Text: fit(text, textLimit), Wrap: true})
	}
	var facts []fact
	for _, f := range []fact{{"Status", m.Status}, {"Agent", m.Agent}, {"Run", m.RunID}} {
		if f.Value = strings.TrimSpace(f.Value); f.Value != "" {
			facts = append(facts, f)
		}
	}
	if len(facts) > 0 {
		body = append(body, element{Type: "FactSet", Facts: facts})
	}
	if e := strings.TrimSpace(m.Error); e != "" && m.Status != delivery.StatusSucceeded && e != text {
		body = append(body, element{Type: "TextBlock", Text: fit(e, errorLimit), Color: "Attention", Wrap: true})
	}
	return &message{
		Type: "message",
		Attachments: []attachment{{
			ContentType: adaptiveCardType,
			Content:     card{Schema: cardSchema, Type: "AdaptiveCard", Version: cardVersion, Body: body},
		}},
	}
}

// encode is msg as JSON, without HTML escaping.
func encode(msg *message) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(msg); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// fit is s cut to at most limit bytes, at a character boundary, without
// the white space before the cut, and ending with an ellipsis.
func fit(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	const ellipsis = "…"
	cut := limit - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.TrimRightFunc(s[:cut], unicode.IsSpace) + ellipsis
}
