package main

import (
	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/examples/server/agents"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
)

// builtinAgents are the agents the server registers: echo, health_check
// (which checks st) and kpi_report (which reads st; the runs of static
// schedules, owned by scheduler.StaticOwner, report on every owner). It
// panics on a wiring error, as MustRegister does.
func builtinAgents(st store.Store) *agent.Registry {
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
	r := agent.NewRegistry()
	r.MustRegister("echo", agent.Func(agents.Echo))
	r.MustRegister("health_check", health)
	r.MustRegister("kpi_report", kpi)
	return r
}
