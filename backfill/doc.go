// Package backfill collects a chat workspace's history into a store, as a
// Herald agent: scheduled ("0 2 * * *", the last 7 days, every channel) or
// run on demand, incrementally (a run fetches only what is new since the
// last one), resumably (a cursor per channel, saved after every page), and
// within the source's rate limits.
//
// A Source reads the workspace (backfill/slack implements it on Slack's Web
// API); a Sink receives the collected messages in batches (the store's
// MessageStore by default, or a search index, a vector database).
package backfill
