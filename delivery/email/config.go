package email

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/mail"
	"strings"
	"time"
)

// TLSMode says how a Deliverer secures its connection to the SMTP server.
type TLSMode string

// The TLS modes.
const (
	// TLSModeSTARTTLS connects in plain text and upgrades with STARTTLS
	// before anything else is sent. STARTTLS is required: a server that
	// does not offer it fails the delivery permanently, and nothing is sent
	// in clear text.
	TLSModeSTARTTLS TLSMode = "starttls"
	// TLSModeTLS speaks TLS from the first byte (implicit TLS, usually on
	// port 465).
	TLSModeTLS TLSMode = "tls"
	// TLSModeNone sends everything, the message and any credentials, in
	// clear text. It is meant for a relay on the same host or network
	// (a local Postfix, a test server), and must be chosen explicitly.
	TLSModeNone TLSMode = "none"
)

// Defaults of Config.
const (
	// PortDefault is the SMTP submission port, used with TLSModeSTARTTLS
	// and TLSModeNone.
	PortDefault = 587
	// PortTLSDefault is the submission port for implicit TLS, used with
	// TLSModeTLS.
	PortTLSDefault = 465
	// TLSModeDefault is the TLS mode of a Config that names none.
	TLSModeDefault = TLSModeSTARTTLS
	// TimeoutDefault bounds one delivery: dialling and the SMTP dialogue.
	TimeoutDefault = 30 * time.Second
	// HelloNameDefault is the name the Deliverer gives itself in EHLO.
	HelloNameDefault = "localhost"
)

// Config configures a Deliverer. Zero values mean the defaults.
type Config struct {
	// Host is the SMTP server's host name or IP address, without a port.
	// Required.
	Host string
	// Port is the SMTP server's TCP port; zero means PortTLSDefault (465)
	// when TLSMode is TLSModeTLS, PortDefault (587) otherwise.
	Port int
	// Username, when set, makes the Deliverer authenticate with AUTH PLAIN
	// as Username and Password. Credentials are sent only over TLS, or in
	// TLSModeNone to a loopback Host ("localhost", "127.0.0.1", "::1").
	// Empty means no authentication.
	Username string
	// Password is Username's password; required when Username is set. It
	// never appears in an error.
	Password string
	// From is the sender, an RFC 5322 address such as
	// "Herald <herald@example.com>". It is the From header and the SMTP
	// envelope sender, and its domain is the right-hand side of every
	// Message-ID. Required.
	From string
	// TLSMode is how the connection is secured; empty means TLSModeDefault
	// (TLSModeSTARTTLS).
	TLSMode TLSMode
	// TLSConfig configures TLS; nil means Go's defaults (the system's
	// roots). It is cloned, and an empty ServerName is set to Host. It is
	// unused in TLSModeNone.
	TLSConfig *tls.Config
	// Timeout bounds one whole delivery, from dialling to the server's last
	// reply; zero means TimeoutDefault (30 s). The context passed to
	// Deliver can end a delivery sooner.
	Timeout time.Duration
	// HelloName is the name the Deliverer gives itself in EHLO; empty
	// means HelloNameDefault ("localhost").
	HelloName string
}

// settings are a Config validated, with its defaults filled in.
type settings struct {
	host      string
	addr      string // host:port
	username  string
	password  string
	from      *mail.Address
	mode      TLSMode
	tlsConfig *tls.Config
	timeout   time.Duration
	helloName string
}

// configError is the error of a refused Config field.
func configError(field, value, rule string) error {
	if value == "" {
		return fmt.Errorf("email: config: %s: %s", field, rule)
	}
	return fmt.Errorf("email: config: %s %q: %s", field, value, rule)
}

// validate checks c and fills in its defaults.
func (c Config) validate() (*settings, error) {
	s := &settings{
		host:      c.Host,
		username:  c.Username,
		password:  c.Password,
		mode:      c.TLSMode,
		timeout:   c.Timeout,
		helloName: c.HelloName,
	}

	switch {
	case c.Host == "":
		return nil, configError("Host", "", "required")
	case !isHostName(c.Host) && net.ParseIP(c.Host) == nil:
		return nil, configError("Host", c.Host, "must be a host name or IP address, without a port")
	}

	switch s.mode {
	case "":
		s.mode = TLSModeDefault
	case TLSModeSTARTTLS, TLSModeTLS, TLSModeNone:
	default:
		return nil, configError("TLSMode", string(c.TLSMode), `must be "starttls", "tls" or "none"`)
	}

	port := c.Port
	switch {
	case port == 0 && s.mode == TLSModeTLS:
		port = PortTLSDefault
	case port == 0:
		port = PortDefault
	case port < 0 || port > 65535:
		return nil, configError("Port", fmt.Sprint(c.Port), "must be between 1 and 65535")
	}
	s.addr = net.JoinHostPort(c.Host, fmt.Sprint(port))

	switch {
	case c.Username == "" && c.Password != "":
		return nil, configError("Password", "", "set without a Username")
	case c.Username != "" && c.Password == "":
		return nil, configError("Password", "", "required when Username is set")
	case strings.ContainsAny(c.Username, "\x00\r\n"):
		return nil, configError("Username", "", "must not contain NUL, CR or LF")
	case strings.ContainsRune(c.Password, 0):
		return nil, configError("Password", "", "must not contain NUL")
	case c.Username != "" && s.mode == TLSModeNone && !isLocalhost(c.Host):
		// net/smtp's PlainAuth would refuse at the first delivery; say so now.
		return nil, configError("Username", "", `credentials are sent only over TLS: TLSMode "none" allows them only to a loopback Host ("localhost", "127.0.0.1", "::1")`)
	}

	if c.From == "" {
		return nil, configError("From", "", "required")
	}
	from, err := mail.ParseAddress(c.From)
	if err != nil {
		return nil, configError("From", c.From, "must be an email address")
	}
	s.from = from

	if s.mode != TLSModeNone {
		if c.TLSConfig != nil {
			s.tlsConfig = c.TLSConfig.Clone()
		} else {
			s.tlsConfig = &tls.Config{}
		}
		if s.tlsConfig.ServerName == "" {
			s.tlsConfig.ServerName = c.Host
		}
	}

	switch {
	case s.timeout == 0:
		s.timeout = TimeoutDefault
	case s.timeout < 0:
		return nil, configError("Timeout", c.Timeout.String(), "must not be negative")
	}

	switch {
	case s.helloName == "":
		s.helloName = HelloNameDefault
	case !isHostName(s.helloName) && !isAddressLiteral(s.helloName):
		return nil, configError("HelloName", c.HelloName, "must be a host name or an address literal such as [192.0.2.1]")
	}
	return s, nil
}

// isHostName reports whether s looks like a DNS host name: dot-separated
// labels of letters, digits, hyphens and underscores.
func isHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// isAddressLiteral reports whether s is an SMTP address literal:
// "[192.0.2.1]" or "[IPv6:2001:db8::1]".
func isAddressLiteral(s string) bool {
	inner, ok := strings.CutPrefix(s, "[")
	if !ok {
		return false
	}
	inner, ok = strings.CutSuffix(inner, "]")
	if !ok {
		return false
	}
	if v6, ok := strings.CutPrefix(inner, "IPv6:"); ok {
		ip := net.ParseIP(v6)
		return ip != nil && ip.To4() == nil
	}
	ip := net.ParseIP(inner)
	return ip != nil && ip.To4() != nil
}

// isLocalhost reports whether net/smtp's PlainAuth lets credentials go to
// host without TLS.
func isLocalhost(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}
