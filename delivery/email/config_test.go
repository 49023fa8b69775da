package email_test

import (
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/delivery/email"
)

func TestNewRefusesBadConfig(t *testing.T) {
	ok := email.Config{Host: "smtp.example.test", From: "herald@example.test"}
	for _, tc := range []struct {
		name   string
		change func(c *email.Config)
		want   string // the error's text
	}{
		{"NoHost", func(c *email.Config) { c.Host = "" }, `email: config: Host: required`},
		{"HostWithPort", func(c *email.Config) { c.Host = "smtp.example.test:587" }, `email: config: Host "smtp.example.test:587": must be a host name or IP address, without a port`},
		{"HostWithSpace", func(c *email.Config) { c.Host = "smtp example" }, `email: config: Host "smtp example": must be a host name or IP address, without a port`},
		{"HostURL", func(c *email.Config) { c.Host = "smtp://smtp.example.test" }, `email: config: Host "smtp://smtp.example.test": must be a host name or IP address, without a port`},
		{"PortNegative", func(c *email.Config) { c.Port = -1 }, `email: config: Port "-1": must be between 1 and 65535`},
		{"PortTooBig", func(c *email.Config) { c.Port = 65536 }, `email: config: Port "65536": must be between 1 and 65535`},
		{"NoFrom", func(c *email.Config) { c.From = "" }, `email: config: From: required`},
		{"FromNotAddress", func(c *email.Config) { c.From = "x" }, `email: config: From "x": must be an email address`},
		{"FromList", func(c *email.Config) { c.From = "a@example.test, b@example.test" }, `email: config: From "a@example.test, b@example.test": must be an email address`},
		{"FromInjection", func(c *email.Config) { c.From = "a@example.test\r\nBcc: b@example.test" }, `email: config: From "a@example.test\r\nBcc: b@example.test": must be an email address`},
		{"TLSMode", func(c *email.Config) { c.TLSMode = "ssl" }, `email: config: TLSMode "ssl": must be "starttls", "tls" or "none"`},
		{"PasswordWithoutUsername", func(c *email.Config) { c.Password = "secret-1" }, `email: config: Password: set without a Username`},
		{"UsernameWithoutPassword", func(c *email.Config) { c.Username = "herald" }, `email: config: Password: required when Username is set`},
		{"UsernameNewline", func(c *email.Config) { c.Username, c.Password = "herald\r\n", "secret-1" }, `email: config: Username: must not contain NUL, CR or LF`},
		{"PasswordNUL", func(c *email.Config) { c.Username, c.Password = "herald", "secret-1\x00" }, `email: config: Password: must not contain NUL`},
		{"AuthInClearText", func(c *email.Config) { c.Username, c.Password, c.TLSMode = "herald", "secret-1", email.TLSModeNone }, `email: config: Username: credentials are sent only over TLS: TLSMode "none" allows them only to a loopback Host ("localhost", "127.0.0.1", "::1")`},
		{"TimeoutNegative", func(c *email.Config) { c.Timeout = -time.Second }, `email: config: Timeout "-1s": must not be negative`},
		{"HelloName", func(c *email.Config) { c.HelloName = "my host\r\nRSET" }, `email: config: HelloName "my host\r\nRSET": must be a host name or an address literal such as [192.0.2.1]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.change(&c)
			d, err := email.New(c)
			if err == nil {
				t.Fatalf("New(%+v) = %v, nil; want an error", c, d)
			}
			if err.Error() != tc.want {
				t.Errorf("New = %q, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret-1") {
				t.Errorf("New = %q, which holds the password", err)
			}
		})
	}
}

func TestNewAcceptsGoodConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  email.Config
	}{
		{"Minimal", email.Config{Host: "smtp.example.test", From: "herald@example.test"}},
		{"Full", email.Config{
			Host: "smtp.example.test", Port: 2525, Username: "herald", Password: "p",
			From: `"Herald Reports" <herald@example.test>`, TLSMode: email.TLSModeTLS,
			TLSConfig: &tls.Config{MinVersion: tls.VersionTLS13}, Timeout: time.Minute, HelloName: "herald.example.test",
		}},
		{"IPv4", email.Config{Host: "192.0.2.1", From: "herald@example.test"}},
		{"IPv6", email.Config{Host: "2001:db8::1", From: "herald@example.test"}},
		{"LoopbackClearTextAuth", email.Config{Host: "localhost", Username: "u", Password: "p", From: "herald@example.test", TLSMode: email.TLSModeNone}},
		{"HelloAddressLiteral", email.Config{Host: "smtp.example.test", From: "herald@example.test", HelloName: "[192.0.2.1]"}},
		{"HelloIPv6Literal", email.Config{Host: "smtp.example.test", From: "herald@example.test", HelloName: "[IPv6:2001:db8::1]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := email.New(tc.cfg); err != nil {
				t.Errorf("New = %v, want success", err)
			}
		})
	}
}

func TestNewClonesTLSConfig(t *testing.T) {
	tc := &tls.Config{}
	if _, err := email.New(email.Config{Host: "smtp.example.test", From: "herald@example.test", TLSConfig: tc}); err != nil {
		t.Fatal(err)
	}
	if tc.ServerName != "" {
		t.Errorf("New set the caller's TLSConfig.ServerName to %q; it must work on a clone", tc.ServerName)
	}
}
