package main

import (
	"slices"
	"strings"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/examples/server/agents"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
)

// builtinAgentNames are the names builtinAgents registers, for the config
// file's checks.
var builtinAgentNames = []string{"echo", "health_check", "kpi_report", "retention"}

// systemOnlyAgents are the agents whose runs act on every owner's data:
// only the static schedules' owner may run them.
var systemOnlyAgents = []string{"retention"}

// builtinAgents are the agents the server registers: echo, health_check
// (which checks st), kpi_report (which reads st; the runs of static
// schedules, owned by scheduler.StaticOwner, report on every owner) and
// retention (which deletes the finished runs older than rc's max_age, for
// runs of scheduler.StaticOwner only). It panics on a wiring error, as
// MustRegister does.
func builtinAgents(st store.Store, rc retentionConfig) *agent.Registry {
	health, err := agents.NewHealthCheck(agents.HealthCheckConfig{
		Checks: []agents.Check{{Name: "store", Func: st.Ping}},
	})
	if err != nil {
		panic(err)
	}
	kpi, err := agents.NewKPIReport(agents.KPIReportConfig{
		Store:        st,
		SystemOwners: []string{scheduler.StaticOwner},
	})
	if err != nil {
		panic(err)
	}
	retention, err := agents.NewRetention(agents.RetentionConfig{
		Store:        st,
		MaxAge:       rc.MaxAge,
		SystemOwners: []string{scheduler.StaticOwner},
	})
	if err != nil {
		panic(err)
	}
	r := agent.NewRegistry()
	r.MustRegister("echo", agent.Func(agents.Echo))
	r.MustRegister("health_check", health)
	r.MustRegister("kpi_report", kpi)
	r.MustRegister("retention", retention)
	return r
}

// checkAgent checks the agent of a schedule or webhook source at path,
// whose runs owner owns (empty for the static schedules' owner).
func checkAgent(p *problems, path, name, owner string) {
	switch {
	case name == "":
		p.add(path, "required: one of "+strings.Join(builtinAgentNames, ", "))
	case !slices.Contains(builtinAgentNames, name):
		p.add(path, "must be one of "+strings.Join(builtinAgentNames, ", "))
	case slices.Contains(systemOnlyAgents, name) && owner != "" && owner != scheduler.StaticOwner:
		p.addf(path, "%s acts on every owner's runs: its owner must be %s (or unset)", name, scheduler.StaticOwner)
	}
}
