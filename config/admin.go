package config

import (
	"fmt"
	"strings"
)

// Admin configures the admin bot and its management rooms: one Land-wide
// admin room and one room per tenant (RoomVerwaltung), encrypted, in which
// admins drive Landesmessenger with commands.
type Admin struct {
	// Homeserver hosts the Land-wide admin room; the first homeserver if
	// unset.
	Homeserver HomeserverName `yaml:"homeserver"`
	// LandAdmins are the directory ids of the people who administer every
	// tenant, from the Land-wide admin room.
	LandAdmins []string `yaml:"land_admins"`
	// Auditors are the directory ids of people who may run read-only
	// commands in the Land-wide admin room, such as the data-protection
	// officer.
	Auditors []string `yaml:"auditors"`
	// FourEyes names commands (by their English name, e.g. "user
	// disable") that need the confirmation of a second admin.
	FourEyes []string `yaml:"four_eyes"`
	// VerifiedDevicesOnly accepts commands only from devices their owner
	// has cross-signed.
	VerifiedDevicesOnly bool `yaml:"verified_devices_only"`
	// BotLocalpart is the localpart of the bot account on every
	// homeserver with a management room.
	BotLocalpart string `yaml:"bot_localpart"`
	// Language of the bot's replies unless a command is given in English:
	// "de" or "en".
	Language string `yaml:"language"`
	// CommandsPerMinute bounds the commands of one sender, after a burst
	// of ten; more are refused.
	CommandsPerMinute int `yaml:"commands_per_minute"`
	// Line is where the section starts (0 if absent).
	Line int `yaml:"-"`
}

// Defaults of the admin section.
const (
	DefaultBotLocalpart = "lm-verwaltung"
	DefaultLanguage     = "de"
	// DefaultCommandsPerMinute is the rate limit per sender.
	DefaultCommandsPerMinute = 20
)

// IsLandAdmin reports whether the person id administers the whole Land.
func (a *Admin) IsLandAdmin(person string) bool { return contains(a.LandAdmins, person) }

// IsAuditor reports whether the person id is an auditor.
func (a *Admin) IsAuditor(person string) bool { return contains(a.Auditors, person) }

// NeedsFourEyes reports whether the command (English name) needs a second
// admin's confirmation.
func (a *Admin) NeedsFourEyes(command string) bool { return contains(a.FourEyes, command) }

var adminKeys = []string{"homeserver", "land_admins", "auditors", "four_eyes", "verified_devices_only", "bot_localpart", "language", "commands_per_minute"}

// fourEyesCommands are the commands four_eyes may name: those that change
// something.
var fourEyesCommands = []string{
	"user add", "user move", "user disable", "user enable", "room create", "room close",
	"member add", "member remove", "role grant", "role revoke",
	"guest invite", "guest extend", "guest remove",
	"retention set", "retention reset", "hold room", "hold person", "hold lift", "marks clear",
}

// DefaultFourEyes are the commands that need a second admin when the
// configuration does not name any: lifting a legal hold.
var DefaultFourEyes = []string{"hold lift"}

// admin decodes and validates the admin section. The people it names are
// checked against the directory at run time (the directory may be LDAP).
func (d *decoder) admin(top mapping, cfg *Config) {
	m := d.child(top, "admin", adminKeys)
	a := &cfg.Admin
	a.Line = m.line
	field := func(key string) (int, string) {
		f := join(m.path, key)
		return d.line(f, m.line), f
	}
	a.Homeserver = HomeserverName(d.str(m, "homeserver"))
	if a.Homeserver == "" && len(cfg.Homeservers) > 0 {
		a.Homeserver = cfg.Homeservers[0].Name
	} else if _, ok := cfg.Homeserver(a.Homeserver); a.Homeserver != "" && !ok && !d.homeserversDamaged {
		line, f := field("homeserver")
		d.addf(line, f, "unknown homeserver %q (configured: %s)", a.Homeserver, configured(homeserverNames(cfg)))
	}
	people := func(key string) []string {
		values, fields, lines := d.strs(m, key)
		seen := map[string]int{}
		var out []string
		for i, v := range values {
			if first, dup := seen[v]; dup {
				d.addf(lines[i], fields[i], "%q is listed twice (first at line %d)", v, first)
				continue
			}
			seen[v] = lines[i]
			out = append(out, v)
		}
		return out
	}
	a.LandAdmins = people("land_admins")
	a.Auditors = people("auditors")
	cmds, fields, lines := d.strs(m, "four_eyes")
	for i, c := range cmds {
		c = strings.Join(strings.Fields(strings.ToLower(c)), " ")
		if !contains(fourEyesCommands, c) {
			d.addf(lines[i], fields[i], "%q is not a command that changes something (want one of: %s)", cmds[i], strings.Join(fourEyesCommands, ", "))
			continue
		}
		a.FourEyes = append(a.FourEyes, c)
	}
	if !m.has("four_eyes") {
		a.FourEyes = append([]string(nil), DefaultFourEyes...)
	}
	a.VerifiedDevicesOnly = d.boolean(m, "verified_devices_only", false)
	a.BotLocalpart = d.str(m, "bot_localpart")
	if a.BotLocalpart == "" {
		a.BotLocalpart = DefaultBotLocalpart
	} else if !localpartRE.MatchString(a.BotLocalpart) {
		line, f := field("bot_localpart")
		d.addf(line, f, "invalid Matrix localpart %q (want lowercase letters, digits and ._=/+-)", a.BotLocalpart)
	}
	for _, hs := range cfg.Homeservers {
		if hs.ServiceAccount.Localpart == a.BotLocalpart {
			line, f := field("bot_localpart")
			d.addf(line, f, "%q is the service account of homeserver %s: the bot needs an account of its own", a.BotLocalpart, hs.Name)
			break
		}
	}
	a.CommandsPerMinute = d.integer(m, "commands_per_minute", DefaultCommandsPerMinute)
	if a.CommandsPerMinute < 1 || a.CommandsPerMinute > 6000 {
		line, f := field("commands_per_minute")
		d.addf(line, f, "must be between 1 and 6000, got %d", a.CommandsPerMinute)
	}
	a.Language = strings.ToLower(d.str(m, "language"))
	if a.Language == "" {
		a.Language = DefaultLanguage
	} else if a.Language != "de" && a.Language != "en" {
		line, f := field("language")
		d.addf(line, f, "invalid language %q (want de or en)", a.Language)
	}
}

func homeserverNames(cfg *Config) []HomeserverName {
	out := make([]HomeserverName, len(cfg.Homeservers))
	for i, hs := range cfg.Homeservers {
		out[i] = hs.Name
	}
	return out
}

// String summarises the admin section for logs.
func (a *Admin) String() string {
	return fmt.Sprintf("admin room on %s, %d Land admins, %d auditors", a.Homeserver, len(a.LandAdmins), len(a.Auditors))
}
