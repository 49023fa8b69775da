// Command testhost is a minimal Herald plugin host for the plugins
// package's tests: it starts the plugin binaries named by its arguments
// with a Manager, prints "pid N" for each plugin process on stdout, and
// blocks until it is killed.
package main

import (
	"fmt"
	"os"

	"github.com/heraldhq/herald/plugins"
)

func main() {
	var cfg plugins.Config
	for _, path := range os.Args[1:] {
		cfg.Plugins = append(cfg.Plugins, plugins.Plugin{Path: path})
	}
	m, err := plugins.NewManager(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testhost:", err)
		os.Exit(1)
	}
	for _, st := range m.Plugins() {
		fmt.Printf("pid %d\n", st.PID)
	}
	select {}
}
