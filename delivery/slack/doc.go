// Package slack is Herald's Slack deliverer: it posts a run's result to a
// Slack incoming webhook, or to a channel with chat.postMessage and a bot
// token.
//
// Import it from the code that wires Herald, to register a "slack" channel
// with the delivery.Router:
//
//	d, err := slack.New(slack.Config{Token: os.Getenv("SLACK_BOT_TOKEN")})
//	if err != nil {
//		return err
//	}
//	router.MustRegister("slack", d)
//
// # Addresses
//
// A message's Target.To says where it goes. An http:// or https:// URL is
// an incoming webhook, posted to without a token. Anything else ("#ops",
// "C0123ABC", a user id) is a channel for chat.postMessage, called with
// Config.Token as a bearer token; without a token such a delivery fails
// for good. An empty Target.To means Config.WebhookURL, else
// Config.Channel.
//
// # The message
//
// The message is a header block with the subject (plain text, cut to 150
// characters, Slack's limit) and a section with the text (mrkdwn, cut to
// 3,000 characters, with &, < and > escaped as Slack requires, so an
// agent's text cannot forge links or mentions). The top-level
// text, which Slack shows in notifications, is the subject then the text,
// cut to 4,000 characters. Lengths are counted in UTF-16 code units, the
// stricter of the ways to count characters. Messages sent with
// chat.postMessage do not unfurl links, and carry message metadata of
// event type "herald_delivery" with the idempotency key and the run id.
//
// # Retries and duplicates
//
// Posting goes through delivery/httppost: each Deliver is one request with
// a timeout (the scheduler owns retries and records each; retries within
// the call only with HTTP.Retries), connection errors, 429 and 5xx are
// transient, a Retry-After is returned as delivery.RetryAfter, and other
// 4xx are permanent. Incoming webhooks refuse a message with a 4xx and a plain-text
// code (invalid_payload, channel_not_found, no_service…), which the error
// quotes. chat.postMessage answers HTTP 200 with "ok": false and an error
// code; Deliver returns it as an *APIError, transient for Slack's
// temporary codes (ratelimited, internal_error, fatal_error,
// service_unavailable, request_timeout, team_added_to_org), permanent for
// the others (channel_not_found, not_in_channel, invalid_auth,
// missing_scope…).
//
// Slack has no idempotency key: neither incoming webhooks nor
// chat.postMessage deduplicate, so a delivery retried after a lost
// response may post twice. With chat.postMessage, a receiver that reads
// the channel's messages can deduplicate on the metadata's
// idempotency_key.
//
// Neither the token nor a webhook URL (which is itself a secret) ever
// appears in an error.
package slack
