package stack

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// synapseConfig renders a Synapse configuration for a stack server on the
// stack's PostgreSQL. Loopback federation needs the loopback range allowed and
// certificate checks off (the stack's certificates are self-signed); nothing
// asks matrix.org for keys. The server's federation settings restrict whom it
// federates with through federation_domain_whitelist; its room version, if
// set, becomes default_room_version.
func synapseConfig(s *serverLayout, pg *Postgres, pgPassword, database string) string {
	return fmt.Sprintf(`# Written by landesmessenger stack up; rewritten on every start.
server_name: %[1]q
pid_file: %[2]q
public_baseurl: "http://%[3]s/"
listeners:
  - port: %[4]d
    bind_addresses: [%[5]q]
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
  - port: %[6]d
    bind_addresses: [%[5]q]
    type: http
    tls: true
    resources:
      - names: [federation]
        compress: false
tls_certificate_path: %[7]q
tls_private_key_path: %[8]q
database:
  name: psycopg2
  args:
    user: %[9]q
    password: %[10]q
    database: %[11]q
    host: %[12]q
    port: %[13]d
    cp_min: 1
    cp_max: 5
log_config: %[14]q
media_store_path: %[15]q
signing_key_path: %[16]q
registration_shared_secret_path: %[17]q
enable_registration: false
allow_guest_access: false
report_stats: false
enable_metrics: false
presence:
  enabled: false
url_preview_enabled: false
trusted_key_servers: []
suppress_key_server_warning: true
federation_verify_certificates: false
# Synapse's default block list minus 127.0.0.0/8: the stack's servers federate
# on loopback under IP-literal names, which the allow list does not cover.
ip_range_blacklist: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
  "192.0.0.0/24", "169.254.0.0/16", "192.88.99.0/24", "198.18.0.0/15", "192.0.2.0/24",
  "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "::1/128", "fe80::/10", "fc00::/7",
  "2001:db8::/32", "ff00::/8", "fec0::/10"]
ip_range_whitelist: ["127.0.0.0/8"]
# A local stack: cheap password hashing and no rate limits keep tests fast.
# Production keeps Synapse's defaults.
bcrypt_rounds: 4
rc_message: {per_second: 1000, burst_count: 1000}
rc_login:
  address: {per_second: 1000, burst_count: 1000}
  account: {per_second: 1000, burst_count: 1000}
  failed_attempts: {per_second: 1000, burst_count: 1000}
rc_registration: {per_second: 1000, burst_count: 1000}
rc_joins:
  local: {per_second: 1000, burst_count: 1000}
  remote: {per_second: 1000, burst_count: 1000}
rc_joins_per_room: {per_second: 1000, burst_count: 1000}
rc_invites:
  per_room: {per_second: 1000, burst_count: 1000}
  per_user: {per_second: 1000, burst_count: 1000}
  per_issuer: {per_second: 1000, burst_count: 1000}
rc_admin_redaction: {per_second: 1000, burst_count: 1000}
rc_federation:
  window_size: 1000
  sleep_limit: 1000
  sleep_delay: 1
  reject_limit: 1000
  concurrent: 100
%[18]s%[19]s%[20]s`,
		s.serverName, filepath.Join(s.dir, "homeserver.pid"), s.clientAddr(),
		clientPort, s.ip, federationPort, s.tlsCert, s.tlsKey,
		pg.User, pgPassword, database, pg.Host, pg.Port,
		filepath.Join(s.dir, "log.yaml"), filepath.Join(s.dir, "media"), s.signingKey, s.sharedSecretFile,
		synapseFederationConfig(s.fed), synapseRoomVersionConfig(s.roomVersion), synapseAppservices(s.appservices))
}

// synapseAppservices loads the appservice registrations files.
func synapseAppservices(files []string) string {
	if len(files) == 0 {
		return ""
	}
	return "app_service_config_files: [" + quoteList(files) + "]\n"
}

// synapseRoomVersionConfig renders the default_room_version line of a
// Synapse configuration, or nothing for Synapse's default.
func synapseRoomVersionConfig(version string) string {
	if version == "" {
		return ""
	}
	return fmt.Sprintf("default_room_version: %q\n", version)
}

const synapseLogConfig = `version: 1
formatters:
  plain:
    format: "%(asctime)s %(levelname)s %(name)s: %(message)s"
handlers:
  console:
    class: logging.StreamHandler
    formatter: plain
loggers:
  synapse.storage.SQL:
    level: WARNING
  synapse.access.http:
    level: WARNING
root:
  level: INFO
  handlers: [console]
disable_existing_loggers: false
`

func synapseDatabase(name string) string { return "synapse_" + name }

func startSynapse(python string, s *serverLayout, pg *Postgres, pgPassword string) (*process, error) {
	conf := filepath.Join(s.dir, "homeserver.yaml")
	if err := os.WriteFile(conf, []byte(synapseConfig(s, pg, pgPassword, synapseDatabase(s.name))), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(s.dir, "log.yaml"), []byte(synapseLogConfig), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(python, "-m", "synapse.app.homeserver", "-c", conf)
	cmd.Dir = s.dir
	return startProcess("synapse "+s.name, cmd, s.logFile)
}
