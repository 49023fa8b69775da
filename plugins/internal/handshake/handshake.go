// Package handshake holds the constants of the go-plugin handshake between
// a Herald host and its plugins, shared by the plugins package and the test
// plugins that must speak (or deliberately misspeak) it.
package handshake

import plugin "github.com/hashicorp/go-plugin"

// ProtocolVersion is the version of Herald's plugin protocol
// (plugins/proto/herald/plugin/v1).
const ProtocolVersion = 1

// The magic cookie: the host sets MagicCookieKey=MagicCookieValue in the
// plugin's environment, and the plugin refuses to serve without it. It is
// not a secret; it only tells a plugin it was started by a host.
const (
	MagicCookieKey   = "HERALD_PLUGIN_MAGIC_COOKIE"
	MagicCookieValue = "b3f6d2a4e1c9785f0a6d4c2e9b1f3a57"
)

// PluginName is the name of the one go-plugin plugin a Herald plugin binary
// serves; it carries every agent and deliverer of the binary.
const PluginName = "herald"

// Config returns the go-plugin handshake of protocol version v.
func Config(v uint) plugin.HandshakeConfig {
	return plugin.HandshakeConfig{
		ProtocolVersion:  v,
		MagicCookieKey:   MagicCookieKey,
		MagicCookieValue: MagicCookieValue,
	}
}
