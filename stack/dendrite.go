package stack

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// The stack's appservice on every Dendrite server. Dendrite v0.13.8 has no
// user admin API, so Landesmessenger acts as local users (display name, join)
// by masquerading with `?user_id=` through this appservice. Its sender must
// not be the service account.
const (
	AppserviceID     = "landesmessenger"
	AppserviceSender = "landesmessenger-as"
)

// appserviceNamespace is one namespace of an appservice registration.
type appserviceNamespace struct {
	Exclusive bool   `yaml:"exclusive"`
	Regex     string `yaml:"regex"`
}

// appserviceRegistration is an appservice registration file as Dendrite
// reads it. URL is nil: the appservice receives no transactions and answers
// no queries (Dendrite skips appservices without a URL for both).
type appserviceRegistration struct {
	ID              string  `yaml:"id"`
	URL             *string `yaml:"url"`
	ASToken         string  `yaml:"as_token"`
	HSToken         string  `yaml:"hs_token"`
	SenderLocalpart string  `yaml:"sender_localpart"`
	RateLimited     bool    `yaml:"rate_limited"`
	Namespaces      struct {
		Users   []appserviceNamespace `yaml:"users"`
		Aliases []appserviceNamespace `yaml:"aliases"`
		Rooms   []appserviceNamespace `yaml:"rooms"`
	} `yaml:"namespaces"`
}

// writeAppservice writes the appservice registration of s (rewritten on
// every start, mode 0600) with tokens kept in files of their own, and
// returns the registration's and the as_token's file. The user namespace
// covers every local user and is not exclusive, so password-registered
// accounts stay as they are and the appservice may act as any of them.
func writeAppservice(s *serverLayout) (regFile, tokenFile string, err error) {
	tokenFile = filepath.Join(s.dir, "appservice_as_token")
	asToken, err := writeSecret(tokenFile)
	if err != nil {
		return "", "", err
	}
	hsToken, err := writeSecret(filepath.Join(s.dir, "appservice_hs_token"))
	if err != nil {
		return "", "", err
	}
	reg := appserviceRegistration{
		ID:              AppserviceID,
		ASToken:         asToken,
		HSToken:         hsToken,
		SenderLocalpart: AppserviceSender,
	}
	reg.Namespaces.Users = []appserviceNamespace{{Regex: "@.*:" + regexp.QuoteMeta(s.serverName)}}
	data, err := yaml.Marshal(&reg)
	if err != nil {
		return "", "", err
	}
	regFile = filepath.Join(s.dir, "appservice.yaml")
	data = append([]byte("# Written by landesmessenger stack up; rewritten on every start.\n"), data...)
	if err := os.WriteFile(regFile, data, 0o600); err != nil {
		return "", "", err
	}
	return regFile, tokenFile, nil
}

// dendriteConfig renders a Dendrite v0.13.8 configuration for a stack server.
// Every component gets its own SQLite file (global.database is for PostgreSQL
// only). Key perspectives are empty so nothing asks matrix.org, and TLS
// validation is off for federation between the stack's self-signed servers.
// The appservice reference names appserviceConfigFile; an empty name leaves
// the list of appservices empty. Federation is off when the server's
// settings disable it.
func dendriteConfig(s *serverLayout, sharedSecret, appserviceConfigFile string) string {
	db := func(name string) string {
		return fmt.Sprintf("\n  database:\n    connection_string: file:%s", filepath.Join(s.dir, name+".db"))
	}
	var b strings.Builder
	fmt.Fprintf(&b, `# Written by landesmessenger stack up; rewritten on every start.
version: 2
global:
  server_name: %q
  private_key: %q
  key_validity_period: 168h0m0s
  trusted_third_party_id_servers: []
  disable_federation: %t
  presence:
    enable_inbound: false
    enable_outbound: false
  report_stats:
    enabled: false
  server_notices:
    enabled: false
  jetstream:
    storage_path: %q
    topic_prefix: Dendrite
  dns_cache:
    enabled: false
app_service_api:
  config_files: [%s]
client_api:
  registration_disabled: true
  guests_disabled: true
  registration_shared_secret: %q
  rate_limiting:
    enabled: false
federation_api:
  disable_tls_validation: true
  key_perspectives: []
  prefer_direct_fetch: true%s
key_server:%s
media_api:
  base_path: %q
  max_file_size_bytes: 10485760%s
mscs:
  mscs: []%s
relay_api:%s
room_server:%s
sync_api:%s
user_api:
  # A local stack: cheap password hashing keeps account creation fast.
  # Production keeps Dendrite's default of 10.
  bcrypt_cost: 4
  account_database:
    connection_string: file:%s
logging:
  - type: std
    level: info
`, s.serverName, s.signingKey, s.fed != nil && s.fed.DisableFederation, filepath.Join(s.dir, "jetstream"), quoteList(append([]string{appserviceConfigFile}, s.appservices...)), sharedSecret,
		db("federationapi"), db("keyserver"), filepath.Join(s.dir, "media"), db("mediaapi"),
		db("mscs"), db("relayapi"), db("roomserver"), db("syncapi"), filepath.Join(s.dir, "userapi_accounts.db"))
	return b.String()
}

// quoteList quotes the non-empty strings of list, comma-separated.
func quoteList(list []string) string {
	var out []string
	for _, s := range list {
		if s != "" {
			out = append(out, quoteOptional(s))
		}
	}
	return strings.Join(out, ", ")
}

func quoteOptional(s string) string {
	if s == "" {
		return ""
	}
	return fmt.Sprintf("%q", s)
}

// startDendrite writes the server's appservice registration and
// configuration and starts it, with its federation listener behind the gate
// if it has one. It records the appservice's token file in s.
func startDendrite(exe string, s *serverLayout) (*process, error) {
	sharedSecret, err := readTrimmed(s.sharedSecretFile)
	if err != nil {
		return nil, err
	}
	asFile, tokenFile, err := writeAppservice(s)
	if err != nil {
		return nil, fmt.Errorf("appservice registration of %s: %w", s.name, err)
	}
	s.appserviceTokenFile = tokenFile
	conf := filepath.Join(s.dir, "dendrite.yaml")
	if err := os.WriteFile(conf, []byte(dendriteConfig(s, sharedSecret, asFile)), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(exe,
		"-config", conf,
		"-http-bind-address", s.clientAddr(),
		"-https-bind-address", s.federationListenAddr(),
		"-tls-cert", s.tlsCert,
		"-tls-key", s.tlsKey,
	)
	cmd.Dir = s.dir
	return startProcess("dendrite "+s.name, cmd, s.logFile)
}
