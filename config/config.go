// Package config loads and validates the landesmessenger configuration
// file: the homeservers of the Land administration, the tenants
// (ministries, police, forestry, schools) living on them with their units
// and rooms, the rooms shared between tenants, the sources of the staff
// directory, the provisioning settings, the database and logging
// settings.
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
	"time"
)

// Example is the embedded example configuration: a Hessen demo with four
// homeservers and seven tenants that runs against a local stack. Its
// directory source, config/directory.yaml, is relative to the working
// directory, so it validates when run from the repository root.
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
	// DefaultHistoryVisibility is the history visibility of rooms without
	// history_visibility.
	DefaultHistoryVisibility = HistoryShared
	// DefaultLDAPFilter is the filter of LDAP sources without filter.
	DefaultLDAPFilter = "(objectClass=inetOrgPerson)"
	// DefaultMemberAttribute is the member attribute of LDAP sources
	// without member_attribute.
	DefaultMemberAttribute = "member"
	// DefaultDirectoryTimeout is the timeout of LDAP sources without
	// timeout.
	DefaultDirectoryTimeout = 10 * time.Second
	// DefaultInterval is provisioning.interval when unset.
	DefaultInterval = 5 * time.Minute
	// MinInterval is the shortest provisioning.interval.
	MinInterval = 10 * time.Second
	// DefaultMaxRemovalShare is provisioning.max_removal_share when
	// unset.
	DefaultMaxRemovalShare = 0.10
	// DefaultDeactivateRemoved is provisioning.deactivate_removed when
	// unset.
	DefaultDeactivateRemoved = true
	// DefaultCredentialsFile is provisioning.credentials_file when unset.
	DefaultCredentialsFile = "credentials.json"
	// DefaultConcurrency is provisioning.concurrency when unset.
	DefaultConcurrency = 4
	// MaxConcurrency is the largest provisioning.concurrency.
	MaxConcurrency = 64
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
	// Rooms lists the cross-tenant rooms: rooms shared by several
	// tenants, hosted on one homeserver. It is optional.
	Rooms []Room `yaml:"rooms,omitempty"`
	// Directory lists the sources of the staff directory, the people who
	// get an account. It is optional.
	Directory []DirectorySource `yaml:"directory,omitempty"`
	// Provisioning configures how accounts and rooms are provisioned.
	// Unset fields hold their defaults.
	Provisioning Provisioning `yaml:"provisioning"`
	// Federation names the Land's signed federation list; nil if the
	// configuration has no federation section (then room ACLs follow the
	// configuration alone).
	Federation *Federation `yaml:"federation,omitempty"`
	// Admin configures the admin bot and its management rooms. Unset
	// fields hold their defaults.
	Admin Admin `yaml:"admin"`
	// Onboarding is the data-protection instruction; unset (Version "")
	// means no onboarding.
	Onboarding Onboarding `yaml:"onboarding"`
	// Offboarding says what happens when a person leaves.
	Offboarding Offboarding `yaml:"offboarding"`
	// Externals configures guest accounts of people outside the Land
	// administration.
	Externals Externals `yaml:"externals"`
	// Retention says how long messages are kept; unset, they are kept
	// forever.
	Retention Retention `yaml:"retention"`
	// Records configures the archive bot that files marked messages;
	// without a records section there is none.
	Records Records `yaml:"records"`
	// Bridge configures the school bridge; without a bridge section there
	// is none.
	Bridge Bridge `yaml:"bridge"`
}

// Database selects the database landesmessenger keeps its state in.
type Database struct {
	// URI is "sqlite:PATH", "file:PATH" or a plain path for SQLite, or
	// "postgres://..." or "postgresql://..." for PostgreSQL. Relative
	// SQLite paths are relative to the working directory.
	URI string `yaml:"uri"`
	// PickleKeyFile holds the secret that encrypts the bots' crypto state
	// in the database; by default pickle.key beside an SQLite database,
	// required with PostgreSQL. Made (0600) when missing.
	PickleKeyFile string `yaml:"pickle_key_file"`
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
	// empty if it is resolved from the local stack. http:// is refused
	// for a host not on loopback unless Insecure is set.
	ClientURL string `yaml:"client_url,omitempty"`
	// Insecure allows an http:// client URL to a host not on loopback;
	// every start logs a warning.
	Insecure bool `yaml:"insecure,omitempty"`
	// RegistrationSharedSecretFile names a file holding the registration
	// shared secret of the homeserver. It is optional.
	RegistrationSharedSecretFile string `yaml:"registration_shared_secret_file,omitempty"`
	// AppserviceTokenFile names a file holding the as_token of
	// Landesmessenger's appservice registration on a Dendrite homeserver,
	// which account administration needs to act as users there (see
	// docs/homeservers.md). Synapse does not need it.
	AppserviceTokenFile string `yaml:"appservice_token_file,omitempty"`
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
	// ShortName is the short name, e.g. "HMdIS". It defaults to the
	// upper-cased ID.
	ShortName string `yaml:"short_name,omitempty"`
	// Units lists the organisational units of the tenant. It is
	// optional.
	Units []Unit `yaml:"units,omitempty"`
	// Rooms lists the rooms of the tenant beyond its default rooms. It
	// is optional. Their Host and Tenants are empty.
	Rooms []Room `yaml:"rooms,omitempty"`
	// Line is the line of the tenant's list item in the file.
	Line int `yaml:"-"`
}

// Unit returns the unit of t with the given id.
func (t *Tenant) Unit(id UnitID) (*Unit, bool) {
	for i := range t.Units {
		if t.Units[i].ID == id {
			return &t.Units[i], true
		}
	}
	return nil, false
}

// Room returns the extra room of t with the given id.
func (t *Tenant) Room(id RoomID) (*Room, bool) {
	return findRoom(t.Rooms, id)
}

// UnitID identifies an organisational unit within its tenant, e.g. "lpp".
type UnitID string

// Unit is an organisational unit of a tenant (Abteilung, Präsidium,
// Forstamt, Schulamt).
type Unit struct {
	// ID is the identifier of the unit, unique within its tenant.
	ID UnitID `yaml:"id"`
	// Name is the display name, usually German.
	Name string `yaml:"name"`
	// Line is the line of the unit's list item in the file.
	Line int `yaml:"-"`
}

// RoomID is the key of a configured room, e.g. "landeslage": lowercase
// letters, digits and hyphens. It is not a Matrix room ID.
type RoomID string

// The ids of the default rooms every tenant gets, which configured rooms
// may not use. Configured room ids may not start with UnitRoomPrefix
// either: that prefix is reserved for the default rooms of units.
const (
	RoomSpace        RoomID = "space"
	RoomAllgemein    RoomID = "allgemein"
	RoomLeitung      RoomID = "leitung"
	RoomMitteilungen RoomID = "mitteilungen"
	// RoomVerwaltung is the tenant's management room (admin bot).
	RoomVerwaltung RoomID = "verwaltung"
	// RoomWillkommen is the tenant's welcome room: people who have not
	// acknowledged the data-protection instruction are only there.
	RoomWillkommen RoomID = "willkommen"
)

// UnitRoomPrefix starts the ids of the units' rooms (unit-pp-kassel).
const UnitRoomPrefix = "unit-"

// ReservedRoomIDs returns the ids of the default rooms.
func ReservedRoomIDs() []RoomID {
	return []RoomID{RoomSpace, RoomAllgemein, RoomLeitung, RoomMitteilungen, RoomVerwaltung, RoomWillkommen}
}

// Reserved reports whether id is the id of a default room or starts with
// UnitRoomPrefix.
func (id RoomID) Reserved() bool {
	for _, r := range ReservedRoomIDs() {
		if id == r {
			return true
		}
	}
	return strings.HasPrefix(string(id), UnitRoomPrefix)
}

// RoomClass says who may be in a room.
type RoomClass string

// The room classes.
const (
	// ClassInternal rooms hold people of one tenant only.
	ClassInternal RoomClass = "internal"
	// ClassCrossAgency rooms hold people of several tenants of the Land
	// administration.
	ClassCrossAgency RoomClass = "cross-agency"
	// ClassExternal rooms may also hold people from outside the Land
	// administration.
	ClassExternal RoomClass = "external"
)

// RoomClasses returns all valid room classes.
func RoomClasses() []RoomClass {
	return []RoomClass{ClassInternal, ClassCrossAgency, ClassExternal}
}

// Valid reports whether c is one of the room classes.
func (c RoomClass) Valid() bool {
	for _, v := range RoomClasses() {
		if c == v {
			return true
		}
	}
	return false
}

// Audience says which people of the room's tenants are in a room.
type Audience string

// The audiences.
const (
	// AudienceAll is everyone (of the room's units, if it has any).
	AudienceAll Audience = "all"
	// AudienceLeaders is the moderators and admins only.
	AudienceLeaders Audience = "leaders"
)

// Audiences returns all valid audiences.
func Audiences() []Audience {
	return []Audience{AudienceAll, AudienceLeaders}
}

// Valid reports whether a is one of the audiences.
func (a Audience) Valid() bool {
	for _, v := range Audiences() {
		if a == v {
			return true
		}
	}
	return false
}

// The history visibilities a room may have (Matrix m.room.history_visibility).
// world_readable is not allowed.
const (
	HistoryShared  = "shared"
	HistoryInvited = "invited"
	HistoryJoined  = "joined"
)

// Room is a configured room: an extra room of a tenant (Tenant.Rooms) or
// a cross-tenant room (Config.Rooms).
type Room struct {
	// ID is the key of the room, unique within its tenant (tenant rooms)
	// or among the cross-tenant rooms. It is never a reserved id (see
	// RoomID.Reserved).
	ID RoomID `yaml:"id"`
	// Name is the display name of the room.
	Name string `yaml:"name"`
	// Topic is the room topic. It is optional.
	Topic string `yaml:"topic,omitempty"`
	// Class defaults to ClassInternal for tenant rooms and
	// ClassCrossAgency for cross-tenant rooms, which are never internal.
	Class RoomClass `yaml:"class"`
	// Audience defaults to AudienceAll for tenant rooms and
	// AudienceLeaders for cross-tenant rooms.
	Audience Audience `yaml:"audience"`
	// Units restricts a tenant room to the people of these units of the
	// tenant. It is empty for no restriction and for cross-tenant rooms.
	Units []UnitID `yaml:"units,omitempty"`
	// HistoryVisibility is HistoryShared (the default), HistoryInvited
	// or HistoryJoined.
	HistoryVisibility string `yaml:"history_visibility"`
	// Host is the homeserver a cross-tenant room lives on; empty for
	// tenant rooms.
	Host HomeserverName `yaml:"host,omitempty"`
	// Tenants lists the tenants of a cross-tenant room, at least one,
	// each once; empty for tenant rooms.
	Tenants []TenantID `yaml:"tenants,omitempty"`
	// Line is the line of the room's list item in the file.
	Line int `yaml:"-"`
}

// The types of directory sources.
const (
	// SourceFile reads people from a YAML or CSV file.
	SourceFile = "file"
	// SourceLDAP reads people from an LDAP server.
	SourceLDAP = "ldap"
)

// DirectoryAttributes returns the keys of DirectorySource.Attributes: the
// fields of a person that may be mapped to LDAP attributes.
func DirectoryAttributes() []string {
	return []string{"id", "given_name", "surname", "office", "tenant", "unit", "role", "deputy"}
}

// DirectorySource is a source of the staff directory: a file or an LDAP
// server.
type DirectorySource struct {
	// Type is SourceFile or SourceLDAP.
	Type string `yaml:"type"`

	// Path is the YAML (.yaml, .yml) or CSV (.csv) file of a file
	// source, relative to the working directory unless absolute. It
	// exists and is readable when the configuration is loaded.
	Path string `yaml:"path,omitempty"`

	// URL is the ldap:// or ldaps:// URL of an LDAP server.
	URL string `yaml:"url,omitempty"`
	// StartTLS upgrades an ldap:// connection to TLS before binding.
	StartTLS bool `yaml:"start_tls,omitempty"`
	// CAFile is a PEM file of the CAs that sign the server's certificate
	// (ldaps:// and StartTLS); the system's CAs when empty.
	CAFile string `yaml:"ca_file,omitempty"`
	// Insecure allows ldap:// without StartTLS to a host that is not on
	// loopback (the bind password then crosses the network in clear);
	// every start logs a warning.
	Insecure bool `yaml:"insecure,omitempty"`
	// BindDN is the DN to bind as; empty for an anonymous bind.
	BindDN string `yaml:"bind_dn,omitempty"`
	// BindPasswordFile names a file holding the bind password (a secret
	// file, see ReadSecret). It is optional.
	BindPasswordFile string `yaml:"bind_password_file,omitempty"`
	// BaseDN is the DN to search people under.
	BaseDN string `yaml:"base_dn,omitempty"`
	// Filter is the LDAP filter selecting people; it defaults to
	// DefaultLDAPFilter for LDAP sources.
	Filter string `yaml:"filter,omitempty"`
	// Attributes maps fields of a person (see DirectoryAttributes) to the
	// LDAP attributes holding them. Unmapped fields use the defaults of
	// the directory package.
	Attributes map[string]string `yaml:"attributes,omitempty"`
	// MemberAttribute is the attribute of a group listing its members'
	// DNs; it defaults to DefaultMemberAttribute for LDAP sources.
	MemberAttribute string `yaml:"member_attribute,omitempty"`
	// Groups assigns the members of LDAP groups to tenants, units and
	// roles.
	Groups []DirectoryGroup `yaml:"groups,omitempty"`
	// Timeout bounds each LDAP operation; it defaults to
	// DefaultDirectoryTimeout for LDAP sources.
	Timeout time.Duration `yaml:"timeout,omitempty"`

	// Line is the line of the source's list item in the file.
	Line int `yaml:"-"`
}

// DirectoryGroup assigns the members of an LDAP group to a tenant, a unit
// of it and a role.
type DirectoryGroup struct {
	// DN is the DN of the group.
	DN string `yaml:"dn"`
	// Tenant is the tenant of the members, or empty.
	Tenant TenantID `yaml:"tenant,omitempty"`
	// Unit is the unit of the members within Tenant, or empty.
	Unit UnitID `yaml:"unit,omitempty"`
	// Role is "", "member", "moderator" or "admin".
	Role string `yaml:"role,omitempty"`
}

// Provisioning configures how accounts and rooms are provisioned.
type Provisioning struct {
	// Interval is the time between provisioning runs; at least
	// MinInterval.
	Interval time.Duration `yaml:"interval"`
	// MaxRemovalShare is the largest share of the provisioned people
	// that one run may remove or deactivate, in (0, 1]. A run that would
	// remove more stops, so that a broken directory does not empty the
	// homeservers.
	MaxRemovalShare float64 `yaml:"max_removal_share"`
	// DeactivateRemoved says whether the accounts of people removed from
	// the directory are deactivated.
	DeactivateRemoved bool `yaml:"deactivate_removed"`
	// CredentialsFile is the file landesmessenger writes the initial
	// credentials of new accounts to, relative to the working directory
	// unless absolute. It is written, not read, so it need not exist.
	CredentialsFile string `yaml:"credentials_file"`
	// Concurrency is the number of requests in flight per homeserver,
	// 1 to MaxConcurrency.
	Concurrency int `yaml:"concurrency"`
	// RoomVersion is the Matrix room version of new rooms; empty means
	// landesmessenger chooses.
	RoomVersion string `yaml:"room_version,omitempty"`
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

// Room returns the cross-tenant room with the given id.
func (c *Config) Room(id RoomID) (*Room, bool) {
	return findRoom(c.Rooms, id)
}

// findRoom returns the room in rooms with the given id.
func findRoom(rooms []Room, id RoomID) (*Room, bool) {
	for i := range rooms {
		if rooms[i].ID == id {
			return &rooms[i], true
		}
	}
	return nil, false
}

// Summary describes the configuration in one line, e.g.
// "4 homeservers (land, polizei, forst, schule), 7 tenants, 3 rooms,
// 1 directory source". Rooms counts the configured rooms of tenants and
// the cross-tenant rooms; rooms and directory sources are left out if
// there are none.
func (c *Config) Summary() string {
	names := make([]string, len(c.Homeservers))
	for i, h := range c.Homeservers {
		names[i] = string(h.Name)
	}
	s := fmt.Sprintf("%s (%s), %s",
		plural(len(c.Homeservers), "homeserver"), strings.Join(names, ", "),
		plural(len(c.Tenants), "tenant"))
	rooms := len(c.Rooms)
	for _, t := range c.Tenants {
		rooms += len(t.Rooms)
	}
	if rooms > 0 {
		s += ", " + plural(rooms, "room")
	}
	if len(c.Directory) > 0 {
		s += ", " + plural(len(c.Directory), "directory source")
	}
	return s
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
