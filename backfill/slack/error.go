package slack

import (
	"github.com/heraldhq/herald/backfill"
)

// Error is a Web API call answered {"ok":false,"error":Code}, or a call
// still rate limited after Config.MaxRetries retries (Code "ratelimited").
//
// errors.Is matches it against backfill.ErrWorkspace when the token cannot
// read the workspace at all (invalid_auth, not_authed, account_inactive,
// token_revoked, token_expired, no_permission, org_login_required,
// team_access_not_granted, ekm_access_denied, and missing_scope on
// conversations.list and users.*), and against backfill.ErrChannel when one
// channel or thread cannot be read (not_in_channel, channel_not_found,
// is_archived, thread_not_found, access_denied, and missing_scope on
// conversations.history and conversations.replies: private channels need
// groups:history, public ones channels:history, so one kind can fail while
// the other reads). Against another *Error, it matches an equal Code (and
// Method, unless the target's is empty).
type Error struct {
	// Method is the Web API method ("conversations.history").
	Method string
	// Code is Slack's error code ("not_in_channel").
	Code string
	// Needed is the scope Slack said was missing, for missing_scope.
	Needed string
}

// Error returns "slack: METHOD: CODE", and the scope needed when Slack
// named one.
func (e *Error) Error() string {
	s := "slack: " + e.Method + ": " + e.Code
	if e.Needed != "" {
		s += " (needed " + e.Needed + ")"
	}
	return s
}

// Is reports whether e belongs to target: see Error.
func (e *Error) Is(target error) bool {
	switch target {
	case backfill.ErrWorkspace:
		return e.workspace()
	case backfill.ErrChannel:
		return e.channel()
	}
	if t, ok := target.(*Error); ok && t != nil {
		return t.Code == e.Code && (t.Method == "" || t.Method == e.Method)
	}
	return false
}

func (e *Error) workspace() bool {
	switch e.Code {
	case "invalid_auth", "not_authed", "account_inactive", "token_revoked",
		"token_expired", "no_permission", "org_login_required",
		"team_access_not_granted", "ekm_access_denied":
		return true
	case "missing_scope":
		return !e.perChannel()
	}
	return false
}

func (e *Error) channel() bool {
	switch e.Code {
	case "not_in_channel", "channel_not_found", "is_archived",
		"thread_not_found", "access_denied":
		return true
	case "missing_scope":
		return e.perChannel()
	}
	return false
}

// perChannel reports whether e's method reads one channel.
func (e *Error) perChannel() bool {
	return e.Method == MethodConversationsHistory || e.Method == MethodConversationsReplies
}
