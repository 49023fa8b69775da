package backfill_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/agent/agenttest"
	"github.com/heraldhq/herald/backfill"
	"github.com/heraldhq/herald/backfill/slack"
	"github.com/heraldhq/herald/backfill/slack/slacktest"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/memstore"
)

// TestConformance runs the agent contract's suite on the backfill agent,
// reading a fake workspace on the real clock with the limits of a
// non-Marketplace app: a run of every channel waits a minute for its
// second history page (busy until cancelled), a run of an empty channel
// ends at once.
func TestConformance(t *testing.T) {
	agenttest.Run(t, func(t *testing.T) agent.Agent {
		ws := slacktest.Generate(slacktest.GenerateParams{Channels: 2, Messages: 40, Users: 5,
			Start: time.Now().Add(-2 * day), Interval: time.Minute})
		ws.Token = botToken
		ws.NonMarketplace = true
		ws.Channels = append(ws.Channels, slacktest.Channel{ID: "C0EMPTY", Name: "empty", Member: true})
		fake := slacktest.New(t, ws)
		st := memstore.New(memstore.Options{})
		t.Cleanup(func() { _ = st.Close() })
		a, err := backfill.NewAgent(backfill.Config{
			Workspaces: backfill.WorkspacesFunc(func(_ context.Context, _, id string) (backfill.Source, error) {
				if id != workspaceID {
					return nil, fmt.Errorf("workspace %q: %w", id, store.ErrNotFound)
				}
				return slack.New(slack.Config{Token: botToken, BaseURL: fake.URL(), HTTPClient: fake.Client(), NonMarketplace: true})
			}),
			Cursors: st, Sink: backfill.StoreSink(st),
		})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}, agenttest.Cases{
		Payload: json.RawMessage(payloadDefault),
		OK:      json.RawMessage(payload(`"include_all_channels":false,"channel_ids":["C0EMPTY"]`)),
		Failures: []agenttest.Failure{
			{Name: "no workspace", Payload: json.RawMessage(`{}`), Permanent: true},
			{Name: "unknown workspace", Payload: json.RawMessage(`{"workspace_id":"T0OTHER"}`), Permanent: true},
			{Name: "days and since", Payload: json.RawMessage(payload(`"days_to_backfill":3,"since":"2025-01-01T00:00:00Z"`)), Permanent: true},
			{Name: "unknown field", Payload: json.RawMessage(payload(`"channels":["C1"]`)), Permanent: true},
		},
	})
}
