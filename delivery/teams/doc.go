// Package teams is Herald's Microsoft Teams deliverer: it posts a run's
// result as an Adaptive Card to a Teams incoming webhook or to a
// Workflows (Power Automate) "when a Teams webhook request is received"
// URL.
//
// Import it from the code that wires Herald, to register a "teams" channel
// with the delivery.Router:
//
//	d, err := teams.New(teams.Config{WebhookURL: os.Getenv("TEAMS_WEBHOOK_URL")})
//	if err != nil {
//		return err
//	}
//	router.MustRegister("teams", d)
//
// # Addresses
//
// A message's Target.To is the webhook URL, http:// or https://; an empty
// Target.To means Config.WebhookURL. Anything else fails for good. A
// webhook URL is a secret and never appears in an error.
//
// # The message
//
// The message is one Adaptive Card (version 1.4): the subject as a bold
// title, the text, a fact set with the run's status, agent and id, and,
// when the run did not succeed, its error in the attention colour. Teams
// refuses messages over about 28 KB, so the title is cut to 500 bytes, the
// text to 20,000 and the error to 4,000.
//
// # Retries and duplicates
//
// Posting goes through delivery/httppost: each Deliver is one request with
// a timeout (the scheduler owns retries and records each; retries within
// the call only with HTTP.Retries), connection errors, 429 and 5xx are
// transient, a Retry-After is returned as delivery.RetryAfter, and other
// 4xx are permanent. Workflows answer 202 Accepted with an empty body; legacy
// connectors answer 200 with the body "1". A legacy connector may also
// report a failure inside a 200, as a text such as "Webhook message
// delivery failed with error: Microsoft Teams endpoint returned HTTP error
// 429 …": a 2xx whose body is neither empty, "1" nor JSON is therefore an
// error: permanent when the text names a 4xx status other than 408, 425
// and 429 (400, 413…), transient otherwise.
//
// Teams has no idempotency key: a delivery retried after a lost response
// may post the card twice.
package teams
