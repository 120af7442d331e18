package stack

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// dendriteConfig renders a Dendrite v0.13.8 configuration for a stack server.
// Every component gets its own SQLite file (global.database is for PostgreSQL
// only). Key perspectives are empty so nothing asks matrix.org, and TLS
// validation is off for federation between the stack's self-signed servers.
func dendriteConfig(s *serverLayout, sharedSecret string) string {
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
  disable_federation: false
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
  config_files: []
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
`, s.serverName, s.signingKey, filepath.Join(s.dir, "jetstream"), sharedSecret,
		db("federationapi"), db("keyserver"), filepath.Join(s.dir, "media"), db("mediaapi"),
		db("mscs"), db("relayapi"), db("roomserver"), db("syncapi"), filepath.Join(s.dir, "userapi_accounts.db"))
	return b.String()
}

func startDendrite(exe string, s *serverLayout, sharedSecret string) (*process, error) {
	conf := filepath.Join(s.dir, "dendrite.yaml")
	if err := os.WriteFile(conf, []byte(dendriteConfig(s, sharedSecret)), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(exe,
		"-config", conf,
		"-http-bind-address", s.clientAddr(),
		"-https-bind-address", s.federationAddr(),
		"-tls-cert", s.tlsCert,
		"-tls-key", s.tlsKey,
	)
	cmd.Dir = s.dir
	return startProcess("dendrite "+s.name, cmd, s.logFile)
}
