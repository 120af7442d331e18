package config

import (
	"strings"
	"testing"
	"time"
)

const bridgeBase = "stack_dir: /tmp/stack\nhomeservers:\n  - {name: land}\n  - {name: schule}\n" +
	"tenants:\n  - {id: hkm, name: HKM, kind: ministry, homeserver: land}\n"

func TestBridgeValues(t *testing.T) {
	good := bridgeBase + `bridge:
  homeserver: schule
  mail_domain: Schulbruecke.Hessen.test
  relay: {address: "127.0.0.1:1025"}
  schools_file: config/schulen.yaml
  rooms:
    - {id: schulamt-kassel, name: Schulamt Kassel, schools: ["1234", "5678"], teachers: true, members: [akoch], until: 2027-07-31}
`
	cfg, err := parse("c.yaml", []byte(good), noEnv)
	if err != nil {
		t.Fatalf("got %v, want no error", err)
	}
	b := cfg.Bridge
	if !b.Enabled() || b.MailDomain != "schulbruecke.hessen.test" || b.SMTPListen != DefaultBridgeSMTPListen ||
		b.MaxAttachment != 10<<20 || b.MaxMail != 25<<20 || !b.StripQuotes || b.Relay.Attempts != DefaultBridgeRelayAttempts {
		t.Errorf("bridge: got %+v", b)
	}
	if len(b.Rooms) != 1 || b.Address(b.Rooms[0]) != "raum-schulamt-kassel@schulbruecke.hessen.test" ||
		!b.Rooms[0].Until.Equal(time.Date(2027, 7, 31, 0, 0, 0, 0, time.UTC)) || !b.Rooms[0].Teachers || len(b.Rooms[0].Schools) != 2 {
		t.Errorf("rooms: got %+v", b.Rooms)
	}
	var none Config
	if none.Bridge.Enabled() {
		t.Error("no bridge section: enabled")
	}
}

func TestBridgeErrors(t *testing.T) {
	bad := bridgeBase + `bridge:
  homeserver: nowhere
  mail_domain: "not a domain"
  smtp_listen: "0.0.0.0"
  relay: {address: "relay-without-port", attempts: 0}
  max_attachment_mb: 50
  rooms:
    - {id: Bad_ID, name: X, schools: ["12a"]}
    - {id: ok, name: Y, schools: ["1"], until: 31.07.2027}
    - {id: ok, name: Z, schools: ["2"]}
`
	_, err := parse("c.yaml", []byte(bad), noEnv)
	for _, want := range []string{
		`c.yaml:8: bridge.homeserver: unknown homeserver "nowhere"`,
		`bridge.mail_domain: invalid mail domain "not a domain"`,
		`bridge.smtp_listen: invalid listen address "0.0.0.0"`,
		`bridge.relay.address: invalid address "relay-without-port"`,
		`bridge.relay.attempts: must be at least 1`,
		`bridge.max_attachment_mb: must be positive and at most max_mail_mb (25), got 50`,
		`bridge.schools_file`,
		`bridge.rooms[0].id: invalid room id "Bad_ID"`,
		`bridge.rooms[0].schools[0]: invalid school number "12a"`,
		`bridge.rooms[1].until: invalid date "31.07.2027"`,
		`bridge.rooms[2].id: room "ok" is already defined on line`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want an error containing %q; got %v", want, err)
		}
	}
}

// TestBridgeInbound checks the mail door's defaults (the safe side:
// loopback clients, DKIM required) and its errors with their lines.
func TestBridgeInbound(t *testing.T) {
	base := bridgeBase + "bridge:\n  homeserver: schule\n  mail_domain: s.test\n  relay: {address: \"127.0.0.1:1025\"}\n  schools_file: s.yaml\n"
	cfg, err := parse("c.yaml", []byte(base), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	in := cfg.Bridge.Inbound
	if !in.RequireDKIM || in.RequireTLS || len(in.TrustedNetworks) != 2 || in.TrustedNetworks[0].String() != "127.0.0.0/8" ||
		in.MaxConnections != DefaultBridgeMaxConnections || in.MaxSession != DefaultBridgeMaxSession {
		t.Errorf("defaults: got %+v", in)
	}
	bad := base + `  inbound:
    trusted_networks: ["10.0.0.0/8", "gateway.example"]
    users:
      - {username: gw}
      - {username: gw, password_file: /nonexistent/pw}
    max_connections: 0
    max_session: 10ms
    require_dkim: vielleicht
`
	_, err = parse("c.yaml", []byte(bad), noEnv)
	for _, want := range []string{
		`c.yaml:13: bridge.inbound.trusted_networks[1]: invalid network "gateway.example"`,
		`c.yaml:15: bridge.inbound.users[0].password_file: missing`,
		`bridge.inbound.users[1].username: user "gw" is listed twice`,
		`bridge.inbound.users[1].password_file`,
		`c.yaml:17: bridge.inbound.max_connections: must be at least 1, got 0`,
		`c.yaml:18: bridge.inbound.max_session: must be at least 1s`,
		`c.yaml:19: bridge.inbound.require_dkim: expected true or false`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v\nwant it to contain %q", err, want)
		}
	}
}

// TestFinding13CleartextRefused is issue 14, finding 13 in the
// configuration: ldap:// without StartTLS and http:// to a host not on
// loopback are refused with the field and the way out; insecure: true
// allows them; loopback needs nothing.
func TestFinding13CleartextRefused(t *testing.T) {
	doc := func(clientURL, ldap string) string {
		return "homeservers:\n  - {name: land, server_name: land.hessen.de, client_url: \"" + clientURL + "\"}\n" +
			"tenants:\n  - {id: hkm, name: HKM, kind: ministry, homeserver: land}\n" +
			"directory:\n  - {type: ldap, base_dn: \"dc=hessen,dc=de\", " + ldap + "}\n"
	}
	for _, tc := range []struct {
		name, clientURL, ldap, want string
	}{
		{"http to a remote host", "http://matrix.hessen.de", `url: "ldaps://ldap.hessen.de"`, `c.yaml:2: homeservers[0].client_url: http:// to matrix.hessen.de sends the service account's password and tokens in clear`},
		{"ldap to a remote host", "https://matrix.hessen.de", `url: "ldap://ldap.hessen.de"`, `c.yaml:6: directory[0].url: ldap:// to ldap.hessen.de without start_tls sends the bind password in clear`},
		{"ldaps with start_tls", "https://matrix.hessen.de", `url: "ldaps://ldap.hessen.de", start_tls: true`, `directory[0].start_tls: ldaps:// is TLS already`},
		{"insecure allowed", "", `url: "ldap://ldap.hessen.de", insecure: true`, ""},
		{"start_tls", "https://matrix.hessen.de", `url: "ldap://ldap.hessen.de", start_tls: true`, ""},
		{"loopback", "http://127.0.0.1:8008", `url: "ldap://127.0.0.1:3389"`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := doc(tc.clientURL, tc.ldap)
			if tc.name == "insecure allowed" {
				text = "homeservers:\n  - {name: land, server_name: land.hessen.de, client_url: \"http://matrix.hessen.de\", insecure: true}\n" +
					"tenants:\n  - {id: hkm, name: HKM, kind: ministry, homeserver: land}\n" +
					"directory:\n  - {type: ldap, base_dn: \"dc=hessen,dc=de\", " + tc.ldap + "}\n"
			}
			_, err := parse("c.yaml", []byte(text), noEnv)
			switch {
			case tc.want == "" && err != nil && (strings.Contains(err.Error(), "in clear") || strings.Contains(err.Error(), "start_tls")):
				t.Errorf("got %v, want no TLS problem", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("got %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}
