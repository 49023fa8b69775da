package slack

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/go-kit/log/level"
	slackapi "github.com/slack-go/slack"

	"github.com/heraldhq/herald/backfill"
)

// usersPageSize is the limit of users.list (Slack: "no more than 200").
const usersPageSize = 200

// users caches user names for UserName.
//
// Policy: the first Config.UsersListAfter distinct users missing from the
// cache are looked up one at a time with users.info (Tier 4, 100 a minute).
// The next miss reads the whole directory once with users.list (Tier 2, 20
// pages of 200 a minute) into the cache; later misses (users who joined
// since, users of other workspaces) go back to users.info. Slack tells no
// workspace's size up front, so reading the directory first could cost a
// one-channel backfill of a 50,000-user workspace 250 calls (12.5 minutes)
// for a handful of names; after UsersListAfter distinct names the backfill
// is evidently broad, and one directory page (3 s) replaces up to 200
// users.info calls (2 minutes).
type users struct {
	after int // Config.UsersListAfter; negative: never read the directory

	mu      sync.Mutex
	names   map[string]string
	missing map[string]error // users.info's user_not_found and the like
	asked   int              // users.info calls made
	listed  bool             // the directory was read, or failed for good
	listing chan struct{}    // closed when the directory read under way ends
}

// UserName returns the name of user id: the profile's display name, else
// its real name, else the account name. Names are cached for the life of
// the Source; see Config.UsersListAfter for which method fetches them.
// An unknown id fails with an *Error (user_not_found), also cached.
func (s *Source) UserName(ctx context.Context, id string) (string, error) {
	if id == "" {
		return "", errors.New("slack: users.info: user id is required")
	}
	u := &s.users
	for {
		u.mu.Lock()
		if name, ok := u.names[id]; ok {
			u.mu.Unlock()
			return name, nil
		}
		if err, ok := u.missing[id]; ok {
			u.mu.Unlock()
			return "", err
		}
		if ch := u.listing; ch != nil {
			u.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return "", fmt.Errorf("slack: %s: %w", MethodUsersList, ctx.Err())
			}
		}
		if !u.listed && u.after >= 0 && u.asked >= u.after {
			ch := make(chan struct{})
			u.listing = ch
			u.mu.Unlock()
			err := s.listUsers(ctx)
			u.mu.Lock()
			u.listing = nil
			if ctx.Err() == nil {
				u.listed = true // a failed read is not tried again
			}
			u.mu.Unlock()
			close(ch)
			if err != nil {
				if ctx.Err() != nil || errors.Is(err, backfill.ErrWorkspace) {
					return "", err
				}
				level.Warn(s.logger).Log("msg", "slack users.list failed, looking users up one by one", "err", err)
			}
			continue
		}
		u.asked++
		u.mu.Unlock()
		return s.userInfo(ctx, id)
	}
}

// userInfo looks one user up with users.info and caches the answer.
func (s *Source) userInfo(ctx context.Context, id string) (string, error) {
	var user *slackapi.User
	_, err := s.call(ctx, MethodUsersInfo, func(ctx context.Context) error {
		var err error
		user, err = s.api.GetUserInfoContext(ctx, id, slackapi.GetUserInfoOptionIncludeLocale(false))
		return err
	})
	u := &s.users
	if err != nil {
		var e *Error
		if errors.As(err, &e) && (e.Code == "user_not_found" || e.Code == "user_not_visible") {
			u.mu.Lock()
			if u.missing == nil {
				u.missing = make(map[string]error)
			}
			u.missing[id] = err
			u.mu.Unlock()
		}
		return "", err
	}
	name := displayName(user)
	u.mu.Lock()
	u.remember(id, name)
	u.mu.Unlock()
	return name, nil
}

// listUsers reads every page of users.list into the cache.
func (s *Source) listUsers(ctx context.Context) error {
	p := s.api.GetUsersPaginated(
		slackapi.GetUsersOptionLimit(usersPageSize),
		slackapi.GetUsersOptionIncludeLocale(false),
	)
	for {
		var next slackapi.UserPagination
		_, err := s.call(ctx, MethodUsersList, func(ctx context.Context) error {
			n, err := p.Next(ctx)
			if err != nil {
				return err
			}
			next = n
			return nil
		})
		if err != nil {
			return err
		}
		p = next
		u := &s.users
		u.mu.Lock()
		for i := range p.Users {
			u.remember(p.Users[i].ID, displayName(&p.Users[i]))
		}
		u.mu.Unlock()
		if p.Cursor == "" {
			return nil
		}
	}
}

// remember caches a name; u.mu is held.
func (u *users) remember(id, name string) {
	if u.names == nil {
		u.names = make(map[string]string)
	}
	u.names[id] = name
	delete(u.missing, id)
}

// displayName picks a user's name as Slack shows it.
func displayName(u *slackapi.User) string {
	for _, n := range []string{u.Profile.DisplayName, u.Profile.RealName, u.RealName, u.Name} {
		if n != "" {
			return n
		}
	}
	return u.ID
}
