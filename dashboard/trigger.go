package dashboard

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/api"
)

// triggerTyped is a schedule's trigger as its owner typed it.
func triggerTyped(s *api.Schedule) string {
	switch {
	case s.Cron != nil:
		return *s.Cron
	case s.Every != nil:
		return "every " + time.Duration(*s.Every).String()
	case s.At != nil:
		return "at " + s.At.Format(time.RFC3339)
	}
	return ""
}

// triggerWords says when a schedule fires, in words: the common cron
// shapes, intervals and one-offs; any other cron expression as typed.
func triggerWords(s *api.Schedule) string {
	switch {
	case s.Every != nil:
		return "Every " + roughDuration(time.Duration(*s.Every))
	case s.At != nil:
		return "Once, at " + s.At.Format("2006-01-02 15:04 MST")
	case s.Cron != nil:
		return cronWords(*s.Cron)
	}
	return "Never"
}

// cronWords describes a cron expression; what it cannot describe it
// returns as "Cron: expr".
func cronWords(expr string) string {
	switch expr {
	case "@hourly":
		return "Every hour, on the hour"
	case "@daily", "@midnight":
		return "Every day at 00:00"
	case "@weekly":
		return "Every Sunday at 00:00"
	case "@monthly":
		return "On the 1st of every month at 00:00"
	case "@yearly", "@annually":
		return "Every 1 January at 00:00"
	}
	if rest, ok := strings.CutPrefix(expr, "@every "); ok {
		if d, err := time.ParseDuration(rest); err == nil {
			return "Every " + roughDuration(d)
		}
	}
	f := strings.Fields(expr)
	if len(f) == 6 && f[0] == "0" {
		f = f[1:]
	}
	if len(f) != 5 {
		return "Cron: " + expr
	}
	min, hour, dom, mon, dow := f[0], f[1], f[2], f[3], f[4]
	if mon != "*" {
		return "Cron: " + expr
	}
	if n, ok := strings.CutPrefix(min, "*/"); ok && hour == "*" && dom == "*" && dow == "*" {
		return "Every " + n + " minutes"
	}
	if min == "*" && hour == "*" && dom == "*" && dow == "*" {
		return "Every minute"
	}
	m, err1 := strconv.Atoi(min)
	if err1 != nil || m < 0 || m > 59 {
		return "Cron: " + expr
	}
	if hour == "*" && dom == "*" && dow == "*" {
		return fmt.Sprintf("Every hour at minute %d", m)
	}
	h, err2 := strconv.Atoi(hour)
	if err2 != nil || h < 0 || h > 23 {
		return "Cron: " + expr
	}
	at := fmt.Sprintf("%02d:%02d", h, m)
	switch {
	case dom == "*" && dow == "*":
		return "Every day at " + at
	case dom == "*" && dow == "1-5":
		return "Weekdays at " + at
	case dom == "*":
		if days := dayNames(dow); days != "" {
			return "Every " + days + " at " + at
		}
	case dow == "*":
		if d, err := strconv.Atoi(dom); err == nil && d >= 1 && d <= 31 {
			return fmt.Sprintf("On day %d of every month at %s", d, at)
		}
	}
	return "Cron: " + expr
}

// dayNames names a day-of-week list ("1,3" → "Mon, Wed"); "" when it is
// not a plain list.
func dayNames(dow string) string {
	names := []string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
	var out []string
	for _, p := range strings.Split(dow, ",") {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 7 {
			return ""
		}
		out = append(out, names[n])
	}
	return strings.Join(out, ", ")
}
