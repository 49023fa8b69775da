package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"

	"github.com/go-kit/log"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/plugins"
)

// pluginsConfig is the plugins: section: out-of-process agents and
// deliverers, started from a directory of plugin binaries (see the
// plugins package).
type pluginsConfig struct {
	// Dir is a directory of plugin binaries; every executable file in it
	// is started, and what it serves is registered beside the built-in
	// agents and channels. Relative to the working directory. Empty means
	// no plugins.
	Dir string `yaml:"dir"`
	// Checksums are the SHA-256 digests (hex) of plugin binaries, by file
	// name without extension; a binary whose digest differs is not
	// started, and the server does not start either.
	Checksums map[string]string `yaml:"checksums"`
}

// pluginName is the rule for the keys of checksums.
var pluginName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// check records the problems of c in p, under path.
func (c pluginsConfig) check(p *problems, path string) {
	if c.Dir == "" && len(c.Checksums) > 0 {
		p.add(key(path, "checksums"), "needs plugins.dir")
	}
	for _, name := range slices.Sorted(maps.Keys(c.Checksums)) {
		kp := key(key(path, "checksums"), name)
		if !pluginName.MatchString(name) {
			p.add(kp, "must be named after a plugin's file (letters, digits, _ . -)")
		}
		if b, err := hex.DecodeString(c.Checksums[name]); err != nil || len(b) != 32 {
			p.add(kp, "must be a SHA-256 digest: 64 hex digits (sha256sum FILE)")
		}
	}
}

// start starts the plugins of c and registers what they serve with agents
// and router. It returns a nil Manager when c has no directory. Problems
// are reported under path in p: a plugin that does not start, or that
// serves a name already taken.
func (c pluginsConfig) start(agents *agent.Registry, router *delivery.Router, logger log.Logger, p *problems, path string) (*plugins.Manager, error) {
	if c.Dir == "" {
		return nil, nil
	}
	if fi, err := os.Stat(c.Dir); err != nil || !fi.IsDir() {
		p.addf(key(path, "dir"), "must be a directory: %s", statError(c.Dir, err))
		return nil, p.err()
	}
	m, err := plugins.NewManager(plugins.Config{
		Dir:       c.Dir,
		Checksums: c.Checksums,
		Logger:    log.With(logger, "component", "plugins"),
	})
	if err != nil {
		where := key(path, "dir")
		if errors.Is(err, plugins.ErrChecksum) || errors.Is(err, plugins.ErrChecksumConfig) {
			where = key(path, "checksums")
		}
		p.add(where, err.Error())
		return nil, p.err()
	}
	served := m.Agents()
	for _, name := range slices.Sorted(maps.Keys(served)) {
		if err := agents.Register(name, served[name]); err != nil {
			p.addf(key(path, "dir"), "a plugin serves agent %q: %v", name, err)
		}
	}
	channels := m.Deliverers()
	for _, name := range slices.Sorted(maps.Keys(channels)) {
		if err := router.Register(name, channels[name]); err != nil {
			p.addf(key(path, "dir"), "a plugin serves channel %q: %v", name, err)
		}
	}
	if err := p.err(); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// statError says why path is not a directory.
func statError(path string, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%s is a file", path)
}
