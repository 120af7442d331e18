// Package config loads and validates the landesmessenger configuration
// file: the homeservers of the Land administration, the tenants
// (ministries, police, forestry, schools) living on them, the database
// and logging settings.
//
// Configuration files are YAML. Values may reference environment
// variables as ${NAME} or ${NAME:-default}; $$ stands for a literal
// dollar sign. Secrets are never written inline: fields ending in _file
// name files holding them, read with ReadSecret.
//
// Load and Parse report every problem of a file at once, each with its
// file, line and field, in a *ValidationError. A YAML syntax error does
// not hide the other problems: the offending lines are patched or left
// out, and the rest of the file is still checked, without problems that
// may merely follow from the lines left out.
package config

import (
	_ "embed"
	"fmt"
	"os"
	"strings"
)

// Example is the embedded example configuration: a Hessen demo with four
// homeservers and seven tenants that runs against a local stack.
//
//go:embed example.yaml
var Example []byte

// ExampleFile is the name used for the embedded example in problems.
const ExampleFile = "example.yaml"

// HomeserverName is the key of a homeserver in the configuration, e.g.
// "land".
type HomeserverName string

// TenantID identifies a tenant, e.g. "hmdis".
type TenantID string

// TenantKind is the kind of authority a tenant is.
type TenantKind string

// The tenant kinds.
const (
	// KindMinistry is a ministry or the state chancellery.
	KindMinistry TenantKind = "ministry"
	// KindPolice is a police authority.
	KindPolice TenantKind = "police"
	// KindForestry is a forestry authority.
	KindForestry TenantKind = "forestry"
	// KindSchools is the school administration and its schools.
	KindSchools TenantKind = "schools"
)

// TenantKinds returns all valid tenant kinds.
func TenantKinds() []TenantKind {
	return []TenantKind{KindMinistry, KindPolice, KindForestry, KindSchools}
}

// Valid reports whether k is one of the tenant kinds.
func (k TenantKind) Valid() bool {
	for _, v := range TenantKinds() {
		if k == v {
			return true
		}
	}
	return false
}

// Default values applied by Load and Parse.
const (
	// DefaultDatabaseURI is the database used when database.uri is empty:
	// an SQLite file relative to the working directory.
	DefaultDatabaseURI = "landesmessenger.db"
	// DefaultLogLevel is the log level used when log.level is empty.
	DefaultLogLevel = "info"
	// DefaultLogFormat is the log format used when log.format is empty.
	DefaultLogFormat = "text"
	// DefaultServiceLocalpart is the localpart of the service account
	// used when service_account.localpart is empty.
	DefaultServiceLocalpart = "landesmessenger"
)

// Config is a loaded and validated configuration file.
type Config struct {
	// Path is the file the configuration was loaded from.
	Path string `yaml:"-"`
	// StackDir is the directory of a local stack started with
	// "landesmessenger stack up". It is optional; homeservers without a
	// client_url are resolved from STACK_DIR/stack.json at runtime.
	StackDir string `yaml:"stack_dir,omitempty"`
	// Database selects the database.
	Database Database `yaml:"database"`
	// Log configures logging.
	Log Log `yaml:"log"`
	// Homeservers lists the homeservers; there is at least one.
	Homeservers []Homeserver `yaml:"homeservers"`
	// Tenants lists the tenants; there is at least one.
	Tenants []Tenant `yaml:"tenants"`
}

// Database selects the database landesmessenger keeps its state in.
type Database struct {
	// URI is "sqlite:PATH", "file:PATH" or a plain path for SQLite, or
	// "postgres://..." or "postgresql://..." for PostgreSQL. Relative
	// SQLite paths are relative to the working directory.
	URI string `yaml:"uri"`
}

// DatabaseDriver is the kind of database a Database URI selects.
type DatabaseDriver string

// The database drivers.
const (
	// DriverSQLite is an SQLite database file.
	DriverSQLite DatabaseDriver = "sqlite"
	// DriverPostgres is a PostgreSQL server.
	DriverPostgres DatabaseDriver = "postgres"
)

// Driver returns the kind of database d selects, or "" if its URI uses an
// unsupported scheme.
func (d Database) Driver() DatabaseDriver {
	driver, _ := parseDatabaseURI(d.URI)
	return driver
}

// DSN returns the data source name to open the database with: the file
// path (or file: URI) for SQLite, the URI itself for PostgreSQL.
func (d Database) DSN() string {
	_, dsn := parseDatabaseURI(d.URI)
	return dsn
}

// parseDatabaseURI splits a database URI into driver and DSN. The driver is
// "" for unsupported schemes.
func parseDatabaseURI(uri string) (DatabaseDriver, string) {
	switch {
	case strings.HasPrefix(uri, "postgres://"), strings.HasPrefix(uri, "postgresql://"):
		return DriverPostgres, uri
	case strings.HasPrefix(uri, "sqlite://"):
		return DriverSQLite, strings.TrimPrefix(uri, "sqlite://")
	case strings.HasPrefix(uri, "sqlite:"):
		return DriverSQLite, strings.TrimPrefix(uri, "sqlite:")
	case strings.HasPrefix(uri, "file:"):
		return DriverSQLite, uri
	case databaseScheme(uri) != "":
		return "", uri
	default:
		return DriverSQLite, uri
	}
}

// databaseScheme returns the scheme of uri if it looks like "scheme://...",
// or "".
func databaseScheme(uri string) string {
	scheme, _, ok := strings.Cut(uri, "://")
	if !ok || scheme == "" {
		return ""
	}
	for i, c := range scheme {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return ""
		}
	}
	return scheme
}

// Log configures logging.
type Log struct {
	// Level is one of trace, debug, info, warn and error.
	Level string `yaml:"level"`
	// Format is text or json.
	Format string `yaml:"format"`
}

// Homeserver is a Matrix homeserver landesmessenger provisions.
type Homeserver struct {
	// Name is the unique key of the homeserver in the configuration.
	Name HomeserverName `yaml:"name"`
	// Description is a free-form description.
	Description string `yaml:"description,omitempty"`
	// ServerName is the Matrix server name, e.g. land.hessen.de. It is
	// empty if it is resolved from the local stack.
	ServerName string `yaml:"server_name,omitempty"`
	// ClientURL is the http(s) base URL of the client-server API. It is
	// empty if it is resolved from the local stack.
	ClientURL string `yaml:"client_url,omitempty"`
	// RegistrationSharedSecretFile names a file holding the registration
	// shared secret of the homeserver. It is optional.
	RegistrationSharedSecretFile string `yaml:"registration_shared_secret_file,omitempty"`
	// ServiceAccount is the account landesmessenger acts as.
	ServiceAccount ServiceAccount `yaml:"service_account"`
	// Line is the line of the homeserver's list item in the file.
	Line int `yaml:"-"`
}

// FromStack reports whether the homeserver's connection details are
// resolved from the local stack (see Config.StackDir) because it has no
// client_url.
func (h *Homeserver) FromStack() bool {
	return h.ClientURL == ""
}

// ServiceAccount is the account landesmessenger uses on a homeserver.
type ServiceAccount struct {
	// Localpart is the localpart of the account's Matrix user ID.
	Localpart string `yaml:"localpart"`
	// PasswordFile names a file holding the account's password. It is
	// optional.
	PasswordFile string `yaml:"password_file,omitempty"`
	// AccessTokenFile names a file holding an access token of the account.
	// It is optional.
	AccessTokenFile string `yaml:"access_token_file,omitempty"`
}

// Tenant is an authority whose users and rooms live on a homeserver.
type Tenant struct {
	// ID is the unique identifier of the tenant.
	ID TenantID `yaml:"id"`
	// Name is the display name, usually German.
	Name string `yaml:"name"`
	// Kind is the kind of authority.
	Kind TenantKind `yaml:"kind"`
	// Homeserver is the name of the homeserver the tenant lives on.
	Homeserver HomeserverName `yaml:"homeserver"`
	// Line is the line of the tenant's list item in the file.
	Line int `yaml:"-"`
}

// Homeserver returns the homeserver called name.
func (c *Config) Homeserver(name HomeserverName) (*Homeserver, bool) {
	for i := range c.Homeservers {
		if c.Homeservers[i].Name == name {
			return &c.Homeservers[i], true
		}
	}
	return nil, false
}

// TenantsOn returns the tenants living on the homeserver called name, in
// configuration order.
func (c *Config) TenantsOn(name HomeserverName) []Tenant {
	var tenants []Tenant
	for _, t := range c.Tenants {
		if t.Homeserver == name {
			tenants = append(tenants, t)
		}
	}
	return tenants
}

// Tenant returns the tenant with the given id.
func (c *Config) Tenant(id TenantID) (*Tenant, bool) {
	for i := range c.Tenants {
		if c.Tenants[i].ID == id {
			return &c.Tenants[i], true
		}
	}
	return nil, false
}

// Summary describes the configuration in one line, e.g.
// "4 homeservers (land, polizei, forst, schule), 7 tenants".
func (c *Config) Summary() string {
	names := make([]string, len(c.Homeservers))
	for i, h := range c.Homeservers {
		names[i] = string(h.Name)
	}
	return fmt.Sprintf("%s (%s), %s",
		plural(len(c.Homeservers), "homeserver"), strings.Join(names, ", "),
		plural(len(c.Tenants), "tenant"))
}

// plural formats n with word, adding an "s" unless n is 1.
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// Load reads, parses and validates the configuration file at path. It
// returns a *ValidationError listing every problem if the file is invalid,
// or another error if it cannot be read.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config file: %w", err)
	}
	return Parse(path, data)
}

// Parse parses and validates the configuration in data, which was read
// from path; path is only used in problems and as Config.Path. Environment
// references are expanded from the process environment, and secret files
// named in the configuration are checked to be readable. It returns a
// *ValidationError listing every problem if the configuration is invalid.
func Parse(path string, data []byte) (*Config, error) {
	return parse(path, data, os.LookupEnv)
}
