package config

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"time"
)

// Bridge configures the school bridge: schools take part in rooms through
// their official mailboxes (docs/school-bridge.md). Without a bridge
// section there is none.
type Bridge struct {
	// Homeserver is where the bridge's ghosts and rooms live.
	Homeserver HomeserverName `yaml:"homeserver"`
	// MailDomain is the domain of the rooms' mail addresses
	// (raum-ROOM@MailDomain).
	MailDomain string `yaml:"mail_domain"`
	// SMTPListen is the address of the bridge's SMTP server for the
	// rooms' addresses; loopback by default.
	SMTPListen string `yaml:"smtp_listen"`
	// TLSCertFile and TLSKeyFile enable STARTTLS on the SMTP server.
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
	// Inbound is who may hand mail to the SMTP server and what a mail must
	// prove (docs/school-bridge.md, "Who may send").
	Inbound BridgeInbound `yaml:"inbound"`
	// Relay is the SMTP relay outgoing mail goes through.
	Relay BridgeRelay `yaml:"relay"`
	// MaxAttachment is the largest attachment in bytes, both ways.
	MaxAttachment int64 `yaml:"-"`
	// MaxMail is the largest mail in bytes the SMTP server accepts.
	MaxMail int64 `yaml:"-"`
	// StripQuotes removes quoted history and signatures from incoming
	// mail.
	StripQuotes bool `yaml:"strip_quotes"`
	// SchoolsFile is the schools directory (school number, name, office
	// mailbox, teacher mailboxes).
	SchoolsFile string `yaml:"schools_file"`
	// AppserviceListen is where the homeserver reaches the bridge's
	// appservice.
	AppserviceListen string `yaml:"appservice_listen"`
	// RegistrationFile is the appservice registration; for a homeserver
	// of the local stack it defaults to STACK_DIR/bridge/registration.yaml.
	RegistrationFile string `yaml:"registration_file"`
	// Database is the bridge's own database (bridgev2's tables); by
	// default bridge.db beside an SQLite database. Required with
	// PostgreSQL.
	Database string `yaml:"database"`
	// InboxRetention is how long a received mail's raw text is kept after
	// it was posted (never longer than the rooms' default retention).
	InboxRetention time.Duration `yaml:"inbox_retention"`
	// Rooms are the bridged rooms.
	Rooms []BridgeRoom `yaml:"rooms"`
	// Line is the line of "bridge:"; 0 if the configuration has none.
	Line int `yaml:"-"`
}

// BridgeRelay is the SMTP relay of outgoing mail.
type BridgeRelay struct {
	// Address is host:port.
	Address string `yaml:"address"`
	// Username and PasswordFile authenticate (PLAIN, only over TLS or to
	// loopback) if set.
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
	// Attempts is how often a mail is tried before it counts as failed.
	Attempts int `yaml:"attempts"`
	// RetryAfter is the wait before the first retry; it doubles.
	RetryAfter time.Duration `yaml:"retry_after"`
}

// BridgeInbound is the mail door's policy: which clients may submit mail,
// whether they must use TLS, and whether mail must carry a DKIM signature
// of its From domain.
type BridgeInbound struct {
	// TrustedNetworks are the client addresses (CIDRs) that may submit
	// mail without SMTP AUTH: the Land's mail gateway. Default: loopback.
	TrustedNetworks []netip.Prefix `yaml:"trusted_networks"`
	// Users may submit mail from anywhere after SMTP AUTH (PLAIN, only
	// over TLS).
	Users []BridgeSMTPUser `yaml:"users"`
	// RequireTLS refuses MAIL FROM before STARTTLS.
	RequireTLS bool `yaml:"require_tls"`
	// RequireDKIM is the default for every school: a mail must carry a
	// valid DKIM signature of its header From's domain. A school of the
	// schools directory may say otherwise (require_dkim there).
	RequireDKIM bool `yaml:"require_dkim"`
	// MaxConnections bounds the SMTP sessions at once; MaxSession bounds
	// how long one session may last.
	MaxConnections int           `yaml:"max_connections"`
	MaxSession     time.Duration `yaml:"max_session"`
}

// BridgeSMTPUser is an account that may submit mail with SMTP AUTH.
type BridgeSMTPUser struct {
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
}

// BridgeRoom is a bridged room.
type BridgeRoom struct {
	// ID names the room; its address is raum-ID@MailDomain.
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	// Schools are the school numbers whose mailboxes are in the room.
	Schools []string `yaml:"schools"`
	// Teachers adds the schools' teacher mailboxes, not only the offices'.
	Teachers bool `yaml:"teachers"`
	// Members are the people (directory ids) of the administration in
	// the room.
	Members []string `yaml:"members"`
	// Until is the end of the room (the school year) unless renewed.
	Until time.Time `yaml:"-"`
	Line  int       `yaml:"-"`
}

// Enabled reports whether the configuration has a bridge.
func (b *Bridge) Enabled() bool { return b.Homeserver != "" }

// Address returns the mail address of room r.
func (b *Bridge) Address(r BridgeRoom) string { return "raum-" + r.ID + "@" + b.MailDomain }

// Bridge defaults.
const (
	DefaultBridgeSMTPListen       = "127.0.0.1:2525"
	DefaultBridgeAppserviceListen = "127.0.0.1:29330"
	DefaultBridgeMaxAttachmentMB  = 10
	DefaultBridgeMaxMailMB        = 25
	DefaultBridgeRelayAttempts    = 5
	DefaultBridgeRelayRetryAfter  = 2 * time.Second
	DefaultBridgeInboxRetention   = 7 * 24 * time.Hour
	DefaultBridgeMaxConnections   = 20
	DefaultBridgeMaxSession       = 10 * time.Minute
)

// DefaultBridgeTrustedNetworks are the clients that may submit mail
// without SMTP AUTH unless the configuration names others: loopback only.
var DefaultBridgeTrustedNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

var (
	bridgeKeys        = []string{"homeserver", "mail_domain", "smtp_listen", "tls_cert_file", "tls_key_file", "inbound", "relay", "max_attachment_mb", "max_mail_mb", "strip_quotes", "schools_file", "appservice_listen", "registration_file", "database", "inbox_retention", "rooms"}
	bridgeInboundKeys = []string{"trusted_networks", "users", "require_tls", "require_dkim", "max_connections", "max_session"}
	bridgeUserKeys    = []string{"username", "password_file"}
	bridgeRelayKeys   = []string{"address", "username", "password_file", "attempts", "retry_after"}
	bridgeRoomKeys    = []string{"id", "name", "schools", "teachers", "members", "until"}
	bridgeRoomIDRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	mailDomainRE      = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$|^localhost$`)
	schoolNumberRE    = regexp.MustCompile(`^[0-9]{1,8}$`)
)

// bridge decodes the bridge section. It must run after homeservers.
func (d *decoder) bridge(top mapping, cfg *Config) {
	if !top.has("bridge") {
		return
	}
	m := d.child(top, "bridge", bridgeKeys)
	b := &cfg.Bridge
	b.Line = top.entries["bridge"].key.Line
	field := func(key string) (string, int) {
		f := join(m.path, key)
		return f, d.line(f, m.line)
	}
	b.Homeserver = HomeserverName(d.required(m, "homeserver"))
	if _, ok := cfg.Homeserver(b.Homeserver); b.Homeserver != "" && !ok && !d.homeserversDamaged {
		f, line := field("homeserver")
		d.addf(line, f, "unknown homeserver %q (configured: %s)", b.Homeserver, configured(homeserverNames(cfg)))
	}
	b.MailDomain = strings.ToLower(d.required(m, "mail_domain"))
	if b.MailDomain != "" && !mailDomainRE.MatchString(b.MailDomain) {
		f, line := field("mail_domain")
		d.addf(line, f, "invalid mail domain %q (want a domain name such as schulbruecke.hessen.de)", b.MailDomain)
	}
	b.SMTPListen = d.listenAddr(m, "smtp_listen", DefaultBridgeSMTPListen)
	b.AppserviceListen = d.listenAddr(m, "appservice_listen", DefaultBridgeAppserviceListen)
	b.TLSCertFile, b.TLSKeyFile = d.str(m, "tls_cert_file"), d.str(m, "tls_key_file")
	if (b.TLSCertFile == "") != (b.TLSKeyFile == "") {
		f, line := field("tls_cert_file")
		d.addf(line, f, "give both tls_cert_file and tls_key_file, or neither")
	}
	b.MaxAttachment = int64(d.integer(m, "max_attachment_mb", DefaultBridgeMaxAttachmentMB)) << 20
	b.MaxMail = int64(d.integer(m, "max_mail_mb", DefaultBridgeMaxMailMB)) << 20
	if b.MaxAttachment <= 0 || b.MaxMail <= 0 || b.MaxAttachment > b.MaxMail {
		f, line := field("max_attachment_mb")
		d.addf(line, f, "must be positive and at most max_mail_mb (%d), got %d", b.MaxMail>>20, b.MaxAttachment>>20)
	}
	b.StripQuotes = d.boolean(m, "strip_quotes", true)
	b.SchoolsFile = d.required(m, "schools_file")
	b.RegistrationFile = d.str(m, "registration_file")
	b.Database = d.str(m, "database")
	b.InboxRetention = d.duration(m, "inbox_retention", DefaultBridgeInboxRetention)
	if b.InboxRetention < time.Hour {
		f, line := field("inbox_retention")
		d.addf(line, f, "must be at least 1h (posted mails are kept that long for retries), got %s", b.InboxRetention)
	}

	d.bridgeInbound(m, b)

	r := d.child(m, "relay", bridgeRelayKeys)
	b.Relay.Address = d.required(r, "address")
	if b.Relay.Address != "" {
		if _, _, err := net.SplitHostPort(b.Relay.Address); err != nil {
			f := join(r.path, "address")
			d.addf(d.line(f, r.line), f, "invalid address %q (want host:port)", b.Relay.Address)
		}
	}
	b.Relay.Username = d.str(r, "username")
	b.Relay.PasswordFile = d.secretFile(r, "password_file")
	b.Relay.Attempts = d.integer(r, "attempts", DefaultBridgeRelayAttempts)
	b.Relay.RetryAfter = d.duration(r, "retry_after", DefaultBridgeRelayRetryAfter)
	if b.Relay.Attempts < 1 {
		f := join(r.path, "attempts")
		d.addf(d.line(f, r.line), f, "must be at least 1, got %d", b.Relay.Attempts)
	}

	seen := map[string]int{}
	for i, item := range d.seq(m, "rooms") {
		path := fmt.Sprintf("%s[%d]", join(m.path, "rooms"), i)
		rm := d.mapping(item, path, item.Line, bridgeRoomKeys)
		room := BridgeRoom{Line: item.Line, ID: d.required(rm, "id"), Name: d.required(rm, "name")}
		if room.ID != "" && !bridgeRoomIDRE.MatchString(room.ID) {
			f := join(rm.path, "id")
			d.addf(d.line(f, rm.line), f, "invalid room id %q (want lowercase letters, digits and -)", room.ID)
		} else if first, dup := seen[room.ID]; dup {
			f := join(rm.path, "id")
			d.addf(d.line(f, rm.line), f, "room %q is already defined on line %d", room.ID, first)
		}
		seen[room.ID] = item.Line
		schools, fields, lines := d.strs(rm, "schools")
		for j, s := range schools {
			if !schoolNumberRE.MatchString(s) {
				d.addf(lines[j], fields[j], "invalid school number %q (want digits)", s)
			}
		}
		if len(schools) == 0 {
			d.missing(rm, "schools", "a list of school numbers")
		}
		room.Schools = schools
		room.Teachers = d.boolean(rm, "teachers", false)
		room.Members, _, _ = d.strs(rm, "members")
		if until := d.str(rm, "until"); until != "" {
			t, err := time.ParseInLocation("2006-01-02", until, time.UTC)
			if err != nil {
				f := join(rm.path, "until")
				d.addf(d.line(f, rm.line), f, "invalid date %q (want YYYY-MM-DD, e.g. the end of the school year)", until)
			}
			room.Until = t
		}
		b.Rooms = append(b.Rooms, room)
	}
}

// bridgeInbound decodes bridge.inbound: the mail door's policy. Its
// defaults are the safe side: loopback clients only, DKIM required.
func (d *decoder) bridgeInbound(m mapping, b *Bridge) {
	in := d.child(m, "inbound", bridgeInboundKeys)
	p := &b.Inbound
	nets, fields, lines := d.strs(in, "trusted_networks")
	for i, n := range nets {
		pfx, err := netip.ParsePrefix(n)
		if err != nil {
			d.addf(lines[i], fields[i], "invalid network %q (want a CIDR such as 10.1.2.0/24 or 192.0.2.7/32)", n)
			continue
		}
		p.TrustedNetworks = append(p.TrustedNetworks, pfx.Masked())
	}
	if !in.has("trusted_networks") {
		p.TrustedNetworks = append([]netip.Prefix(nil), DefaultBridgeTrustedNetworks...)
	}
	seen := map[string]bool{}
	for i, item := range d.seq(in, "users") {
		path := fmt.Sprintf("%s[%d]", join(in.path, "users"), i)
		um := d.mapping(item, path, item.Line, bridgeUserKeys)
		u := BridgeSMTPUser{Username: d.required(um, "username")}
		if pf := d.required(um, "password_file"); pf != "" {
			u.PasswordFile = d.secretFile(um, "password_file")
		}
		if u.Username != "" && seen[u.Username] {
			f := join(um.path, "username")
			d.addf(d.line(f, um.line), f, "user %q is listed twice", u.Username)
		}
		seen[u.Username] = true
		p.Users = append(p.Users, u)
	}
	p.RequireTLS = d.boolean(in, "require_tls", false)
	p.RequireDKIM = d.boolean(in, "require_dkim", true)
	p.MaxConnections = d.integer(in, "max_connections", DefaultBridgeMaxConnections)
	if p.MaxConnections < 1 {
		f := join(in.path, "max_connections")
		d.addf(d.line(f, in.line), f, "must be at least 1, got %d", p.MaxConnections)
	}
	p.MaxSession = d.duration(in, "max_session", DefaultBridgeMaxSession)
	if p.MaxSession < time.Second {
		f := join(in.path, "max_session")
		d.addf(d.line(f, in.line), f, "must be at least 1s, got %s", p.MaxSession)
	}
}

// listenAddr decodes a host:port field that must be on loopback unless it
// says otherwise explicitly with a non-loopback IP.
func (d *decoder) listenAddr(m mapping, key, def string) string {
	v := d.str(m, key)
	if v == "" {
		return def
	}
	host, _, err := net.SplitHostPort(v)
	if err != nil || net.ParseIP(host) == nil {
		f := join(m.path, key)
		d.addf(d.line(f, m.line), f, "invalid listen address %q (want IP:port, e.g. %s)", v, def)
	}
	return v
}
