package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"

	"github.com/heraldhq/herald/api"
)

// preview asks the API for the next fire times of a trigger: a cron
// expression given as the argument, or -every or -at.
func preview(ctx context.Context, c *cli, name string, args []string) error {
	f := c.newFlags(name, "'CRON' | -every DUR | -at TIME [-tz ZONE] [-n N] [-from TIME] [-start TIME] [-end TIME]")
	var every, at, tz, start, end string
	from := timeFlag{now: c.now}
	n := 10
	f.StringVar(&every, "every", "", "preview firing every `duration` instead of a cron expression")
	f.StringVar(&at, "at", "", "preview firing once at this RFC 3339 `time` instead")
	f.StringVar(&tz, "tz", "", "read the trigger in this IANA `zone` (default UTC)")
	f.StringVar(&start, "start", "", "fire from this RFC 3339 `time`")
	f.StringVar(&end, "end", "", "fire until this RFC 3339 `time`")
	f.Var(&from, "from", "list the fire times after this RFC 3339 `time` (default now)")
	f.IntVar(&n, "n", n, "how many fire times, 1 to 1000")
	pos, err := f.parse(args, 0, 1)
	if err != nil {
		return err
	}
	set := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	req := &api.PreviewRequest{Count: &n}
	given := 0
	if len(pos) == 1 {
		req.Cron = &pos[0]
		given++
	}
	if set["every"] {
		req.Every = &every
		given++
	}
	if set["at"] {
		req.At = &at
		given++
	}
	switch {
	case given == 0:
		return usagef(name, "missing trigger: give a cron expression ('*/5 * * * *'), -every or -at")
	case given > 1:
		return usagef(name, "give one trigger: a cron expression, -every or -at")
	case n < 1 || n > 1000:
		return usagef(name, "flag -n: want 1 to 1000, not %d", n)
	}
	if set["tz"] {
		req.Timezone = &tz
	}
	if set["start"] {
		req.Start = &start
	}
	if set["end"] {
		req.End = &end
	}
	if s := from.String(); s != "" {
		req.From = &s
	}
	cl, err := c.client(name)
	if err != nil {
		return err
	}
	defer cl.close()
	b, err := cl.do(ctx, http.MethodPost, "/v1/triggers/preview", nil, req)
	if err != nil {
		return err
	}
	var p api.Preview
	if err := decodeAnswer("/v1/triggers/preview", b, &p); err != nil {
		return err
	}
	if c.output == "json" {
		return c.writeRaw(b)
	}
	for _, t := range p.FireTimes {
		fmt.Fprintln(c.stdout, tm(&t))
	}
	return nil
}
