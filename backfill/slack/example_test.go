package slack_test

import (
	"context"
	"fmt"
	"time"

	"github.com/heraldhq/herald/backfill"
	"github.com/heraldhq/herald/backfill/slack"
	"github.com/heraldhq/herald/backfill/slack/slacktest"
	"github.com/heraldhq/herald/clock/clocktest"
)

// Example reads a workspace's channels, their history and the authors'
// names. The workspace is the slacktest fake, and the clock a fake one, so
// the rate-limit wait before the second users.info call is reported
// without being slept.
func Example() {
	fake, err := slacktest.NewServer(&slacktest.Workspace{
		Channels: []slacktest.Channel{{ID: "C1", Name: "general", Member: true, Messages: []slacktest.Message{
			{TS: "1700000001.000000", User: "U1", Text: "hello"},
			{TS: "1700000002.000000", User: "U2", Text: "deploy?", Replies: []slacktest.Message{
				{TS: "1700000002.000100", User: "U1", Text: "done"},
			}},
		}}},
		Users: map[string]string{"U1": "Ann", "U2": "Bob"},
	})
	if err != nil {
		panic(err)
	}
	defer fake.Close()

	src, err := slack.New(slack.Config{
		Token:   fake.Token(),
		BaseURL: fake.URL(),
		Clock:   clocktest.New(time.Unix(1_700_000_000, 0)),
	})
	if err != nil {
		panic(err)
	}
	src.OnWait(func(method string, d time.Duration) { fmt.Printf("(waited %v for %s)\n", d, method) })

	ctx := context.Background()
	channels, err := src.Channels(ctx, backfill.ChannelsParams{})
	if err != nil {
		panic(err)
	}
	for _, ch := range channels {
		page, err := src.History(ctx, backfill.HistoryParams{Channel: ch.ID})
		if err != nil {
			panic(err)
		}
		for _, m := range page.Messages {
			name, err := src.UserName(ctx, m.User)
			if err != nil {
				panic(err)
			}
			fmt.Printf("#%s %s %s: %s (%d replies)\n", ch.Name, m.TS, name, m.Text, m.ReplyCount)
		}
	}
	// Output:
	// #general 1700000002.000000 Bob: deploy? (1 replies)
	// (waited 600ms for users.info)
	// #general 1700000001.000000 Ann: hello (0 replies)
}
