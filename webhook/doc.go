// Package webhook receives inbound webhooks for Herald: a Verifier per
// signature scheme (Standard Webhooks, Stripe, GitHub, Slack, Microsoft
// Teams and Bot Framework, generic HMAC, bearer tokens, and an explicit
// Insecure), and a Handler, an http.Handler that bounds the body, verifies
// it, and hands the event to a Sink that records it and enqueues its run in
// one step (the scheduler is the usual sink).
//
// Import it to mount webhook endpoints in a Go service. It imports no other
// Herald package.
package webhook
