// Package slack implements backfill.Source on Slack's Web API: it lists a
// workspace's channels (conversations.list), pages through their history
// (conversations.history) and threads (conversations.replies), and resolves
// user names (users.info, users.list) through a cache. Import it where a
// backfill agent is wired to a Slack workspace; tests use the fake Web API in
// backfill/slack/slacktest.
//
// # Client
//
// Requests are made with github.com/slack-go/slack, the maintained Go client
// of the Web API: it encodes the methods' arguments, decodes the typed
// responses and turns Slack's ok:false answers into errors. Three things it
// does not do the way a backfill needs are done here instead:
//
//   - Waiting. slack-go's retries (OptionRetry) and its all-pages helpers
//     (GetUsersContext, GetAllConversationsContext) sleep on the wall clock,
//     and add jitter to Retry-After. This package never enables them: it
//     calls the one-page methods and waits itself, on the Clock of Config,
//     so tests drive rate limits and Retry-After without sleeping.
//   - Raw JSON. slack-go decodes messages into structs; Message.Raw must be
//     the message exactly as Slack sent it. The HTTP client slack-go is given
//     wraps Config.HTTPClient and keeps, for the call being made, the
//     response's status, headers and body; Raw is cut from that body. The
//     same capture gives Retry-After to a 429 whose header slack-go cannot
//     parse or does not see (a 429 without it).
//   - Errors. Slack's codes become *Error, which errors.Is matches against
//     backfill.ErrWorkspace and backfill.ErrChannel.
//
// # Rate limits
//
// Slack limits each method per workspace per app. A Source reads one
// workspace, and keeps one limiter per method (golang.org/x/time/rate,
// burst 1, so calls are spaced evenly and no minute ever holds more than the
// method's budget): by default Tier 2 (20 per minute) for conversations.list
// and users.list, Tier 3 (50) for conversations.history and
// conversations.replies, Tier 4 (100) for users.info. Config.NonMarketplace
// applies Slack's May 2025 limits for commercially distributed apps outside
// the Marketplace: 1 request per minute and at most 15 messages a page for
// conversations.history and conversations.replies. A 429 is retried after
// exactly its Retry-After (60 s when absent), up to Config.MaxRetries times;
// other calls of the same method wait it out too. Every such wait is
// reported to the function set with OnWait (backfill.Waiter).
//
// The token is kept inside the slack-go client only: it is never logged,
// never in an error, and Config and Source print it as [REDACTED].
package slack
