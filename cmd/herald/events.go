package main

import (
	"context"
	"net/url"

	"github.com/heraldhq/herald/api"
)

func eventsList(ctx context.Context, c *cli, name string, args []string) error {
	f := c.newFlags(name, "[-source S] [-owner O] [-since T] [-until T] [-limit N] [-cursor C] [-all]")
	var source, owner string
	since, until := timeFlag{now: c.now, ago: true}, timeFlag{now: c.now, ago: true}
	var p paging
	f.StringVar(&source, "source", "", "only the events of this webhook `source`")
	f.StringVar(&owner, "owner", "", "only this `owner`'s events (an admin's token)")
	f.Var(&since, "since", "only events received from this `time` (RFC 3339, or a duration back from now: 1h)")
	f.Var(&until, "until", "only events received before this `time` (RFC 3339, or a duration back from now)")
	cl, err := c.listClient(name, f, &p, args)
	if err != nil {
		return err
	}
	defer cl.close()
	q := url.Values{}
	setStr(q, "source", source)
	setStr(q, "owner", owner)
	since.set(q, "since")
	until.set(q, "until")
	events, cursor, err := fetchAll(ctx, &p, cl, "/v1/events", q, func(pg *api.EventList) ([]*api.Event, *string) { return pg.Events, pg.NextCursor })
	if err != nil {
		return err
	}
	if c.output == "json" {
		return c.writeJSON(&api.EventList{Events: events, NextCursor: orNil(cursor)})
	}
	t := c.newTable("ID", "SOURCE", "DELIVERY", "OWNER", "RUN", "RECEIVED")
	for _, e := range events {
		t.row(e.ID, e.Source, e.DeliveryID, e.Owner, str(e.RunID), tm(&e.ReceivedAt))
	}
	if err := t.flush(); err != nil {
		return err
	}
	c.more(name, cursor)
	return nil
}
