package plugins

import (
	"time"

	"github.com/go-kit/log"
)

// Defaults of Config's zero values.
const (
	// StartTimeoutDefault bounds a plugin's start: exec, handshake and
	// Describe. A plugin that has not answered by then is killed.
	StartTimeoutDefault = 10 * time.Second
	// HealthIntervalDefault is how often a running plugin is health-checked.
	HealthIntervalDefault = 10 * time.Second
	// HealthTimeoutDefault bounds one health check; a plugin that does not
	// answer in time is killed and restarted.
	HealthTimeoutDefault = 5 * time.Second
	// RestartMinDefault is the delay before the second of several restarts
	// in a row; the first restart after a crash is immediate, and each later
	// delay doubles up to RestartMaxDefault.
	RestartMinDefault = 100 * time.Millisecond
	// RestartMaxDefault caps the delay between two restarts.
	RestartMaxDefault = 30 * time.Second
	// StableAfter is how long a plugin must run for its next crash to count
	// as a first crash again (restarted at once).
	StableAfter = time.Minute
)

// Config configures a Manager. Its zero values mean the defaults.
type Config struct {
	// Dir, when set, is a directory of plugin binaries: every regular,
	// executable file in it whose name does not start with "." is a plugin
	// named after its file (the extension dropped). The directory must not
	// be writable by anyone the host does not trust.
	Dir string
	// Plugins are plugins given one by one, beside those of Dir.
	Plugins []Plugin
	// Checksums are the expected SHA-256 digests of plugin binaries (hex),
	// by plugin name; they apply to the plugins of Dir and to those of
	// Plugins that set no SHA256. A binary whose digest differs is not
	// started. A checksum naming no plugin is a configuration error.
	Checksums map[string]string
	// RequireChecksums refuses to start any plugin that has no checksum.
	RequireChecksums bool
	// Logger receives the Manager's logs, go-plugin's logs and the plugins'
	// stderr, each line with a "plugin" key naming its plugin; nil means
	// log.NewNopLogger().
	Logger log.Logger
	// StartTimeout bounds the start of a plugin (exec, handshake, Describe);
	// zero means StartTimeoutDefault. It also bounds how long a call waits
	// for a restarting plugin before failing with ErrUnavailable.
	StartTimeout time.Duration
	// HealthInterval is how often each plugin is health-checked; zero means
	// HealthIntervalDefault.
	HealthInterval time.Duration
	// HealthTimeout bounds one health check; zero means
	// HealthTimeoutDefault.
	HealthTimeout time.Duration
	// RestartMin is the delay before the second of several restarts in a
	// row; zero means RestartMinDefault.
	RestartMin time.Duration
	// RestartMax caps the delay between two restarts; zero means
	// RestartMaxDefault.
	RestartMax time.Duration
}

// Plugin is one plugin binary.
type Plugin struct {
	// Path is the binary's path. Required.
	Path string
	// Name names the plugin in logs, errors and Config.Checksums; empty
	// means the file's name without its extension.
	Name string
	// Args are the arguments the binary is started with.
	Args []string
	// Env are extra environment variables ("KEY=value") of the plugin,
	// beside the host's own.
	Env []string
	// SHA256 is the expected SHA-256 digest of the binary (hex); empty
	// means Config.Checksums[Name], or no check.
	SHA256 string
	// TLS says whether the connection uses go-plugin's AutoMTLS.
	TLS TLSMode
}

// TLSMode says whether a plugin's connection uses go-plugin's AutoMTLS:
// one-time certificates for the host and the plugin, exchanged at start.
type TLSMode int

// TLS modes.
const (
	// TLSAuto uses AutoMTLS for plugins written in Go (the binary carries
	// Go build information), which the plugins package serves with mTLS,
	// and plain gRPC over the local socket for the others.
	TLSAuto TLSMode = iota
	// TLSOn always uses AutoMTLS; the plugin must implement it.
	TLSOn
	// TLSOff never uses AutoMTLS.
	TLSOff
)

// withDefaults returns c with its zero values replaced by the defaults.
func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = log.NewNopLogger()
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = StartTimeoutDefault
	}
	if c.HealthInterval <= 0 {
		c.HealthInterval = HealthIntervalDefault
	}
	if c.HealthTimeout <= 0 {
		c.HealthTimeout = HealthTimeoutDefault
	}
	if c.RestartMin <= 0 {
		c.RestartMin = RestartMinDefault
	}
	if c.RestartMax <= 0 {
		c.RestartMax = RestartMaxDefault
	}
	c.RestartMax = max(c.RestartMax, c.RestartMin)
	return c
}
