package plugins

import (
	"crypto/sha256"
	"crypto/subtle"
	"debug/buildinfo"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// spec is a plugin resolved from the Config: its name, absolute path,
// expected digest and TLS choice.
type spec struct {
	name   string
	path   string
	args   []string
	env    []string
	sha256 []byte // nil: no check
	mtls   bool
}

// specs resolves the plugins of cfg: those of cfg.Dir, then cfg.Plugins.
func (c Config) specs() ([]spec, error) {
	var plugins []Plugin
	if c.Dir != "" {
		found, err := discover(c.Dir)
		if err != nil {
			return nil, err
		}
		plugins = append(plugins, found...)
	}
	plugins = append(plugins, c.Plugins...)
	used := map[string]bool{}
	var out []spec
	for i, p := range plugins {
		if p.Path == "" {
			return nil, fmt.Errorf("plugins: plugin %d: no path", i)
		}
		path, err := filepath.Abs(p.Path)
		if err != nil {
			return nil, fmt.Errorf("plugins: plugin %s: %w", p.Path, err)
		}
		name := p.Name
		if name == "" {
			name = nameOf(path)
		}
		if used[name] {
			return nil, fmt.Errorf("plugins: two plugins are named %q (%s); give one another Name", name, path)
		}
		used[name] = true
		sum := p.SHA256
		if sum == "" {
			sum = c.Checksums[name]
		}
		s := spec{name: name, path: path, args: p.Args, env: p.Env}
		switch {
		case sum != "":
			s.sha256, err = hex.DecodeString(strings.TrimSpace(sum))
			if err != nil || len(s.sha256) != sha256.Size {
				return nil, fmt.Errorf("%w: plugin %q (%s): checksum %q is not a hex SHA-256 digest", ErrChecksumConfig, name, path, sum)
			}
		case c.RequireChecksums:
			return nil, fmt.Errorf("%w: plugin %q (%s) has no checksum, and checksums are required", ErrChecksumConfig, name, path)
		}
		switch p.TLS {
		case TLSOn:
			s.mtls = true
		case TLSOff:
		default:
			_, err := buildinfo.ReadFile(path)
			s.mtls = err == nil
		}
		out = append(out, s)
	}
	for name := range c.Checksums {
		if !used[name] {
			return nil, fmt.Errorf("%w: a checksum is configured for plugin %q, but there is no such plugin", ErrChecksumConfig, name)
		}
	}
	return out, nil
}

// discover lists the plugins of dir: its regular, executable files whose
// names do not start with ".", sorted by name.
func discover(dir string) ([]Plugin, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("plugins: read plugin directory: %w", err)
	}
	var out []Plugin
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		fi, err := os.Stat(path) // follows symbolic links
		if err != nil {
			return nil, fmt.Errorf("plugins: plugin directory: %w", err)
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			continue
		}
		out = append(out, Plugin{Path: path})
	}
	slices.SortFunc(out, func(a, b Plugin) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

// nameOf names the plugin at path: its file name without the extension.
func nameOf(path string) string {
	base := filepath.Base(path)
	if ext := filepath.Ext(base); ext != "" && ext != base {
		base = strings.TrimSuffix(base, ext)
	}
	return base
}

// verify checks the binary of s against its digest, if it has one, in
// constant time. The binary must not change between this check and its
// start: keep plugin directories writable only by trusted users.
func (s spec) verify() error {
	if s.sha256 == nil {
		return nil
	}
	f, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("plugins: plugin %q: verify checksum: %w", s.name, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("plugins: plugin %q: verify checksum of %s: %w", s.name, s.path, err)
	}
	if got := h.Sum(nil); subtle.ConstantTimeCompare(got, s.sha256) != 1 {
		return fmt.Errorf("%w: plugin %q: %s has SHA-256 %x, but %x is configured; not starting it",
			ErrChecksum, s.name, s.path, got, s.sha256)
	}
	return nil
}
