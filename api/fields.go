package api

import (
	"regexp"
	"strings"
)

// fieldMap translates the field names of the scheduler's and the store's
// validation errors ("trigger.cron", "targets[0].channel") into the JSON
// paths the client sent ("cron", "deliver[0].channel"). Names it does not
// hold pass through.
type fieldMap map[string]string

// scheduleFields are the schedule request's paths. "trigger" (the minimum
// interval policy) is set per request to the trigger field the client used.
var scheduleFields = fieldMap{
	"trigger.cron":     "cron",
	"trigger.interval": "every",
	"trigger.at":       "at",
	"trigger.timezone": "timezone",
	"trigger.start_at": "start",
	"trigger.end_at":   "end",
	"trigger.jitter":   "jitter",
	"trigger.kind":     "cron",
	"trigger":          "cron",
	"targets":          "deliver",
}

// runFields are the enqueue request's paths.
var runFields = fieldMap{"targets": "deliver", "run_at": "run_at"}

// indexed matches a leading "name[3]" of a path.
var indexed = regexp.MustCompile(`^([a-z_]+)(\[\d+\].*)$`)

// path returns the client's name of field.
func (m fieldMap) path(field string) string {
	if p, ok := m[field]; ok {
		return p
	}
	if g := indexed.FindStringSubmatch(field); g != nil {
		if p, ok := m[g[1]]; ok {
			return p + g[2]
		}
	}
	return field
}

// rule rewrites the field names a rule mentions ("must be after
// trigger.start_at") into the client's.
func (m fieldMap) rule(rule string) string {
	for from, to := range m {
		if strings.Contains(from, ".") && strings.Contains(rule, from) {
			rule = strings.ReplaceAll(rule, from, to)
		}
	}
	return rule
}

// with returns m with field mapped to path.
func (m fieldMap) with(field, path string) fieldMap {
	c := make(fieldMap, len(m)+1)
	for k, v := range m {
		c[k] = v
	}
	c[field] = path
	return c
}
