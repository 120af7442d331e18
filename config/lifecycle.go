package config

import (
	"os"
	"time"
)

// Onboarding configures the data-protection instruction every person
// acknowledges before they get into official rooms.
type Onboarding struct {
	// Enabled turns onboarding on (the default when the section is there).
	Enabled bool `yaml:"enabled"`
	// Version names the instruction's text, e.g. "2026-11". A new version
	// asks everyone again.
	Version string `yaml:"version"`
	// InstructionDE and InstructionEN are the Markdown files of the
	// instruction in German (required) and English (optional).
	InstructionDE string `yaml:"instruction_de"`
	InstructionEN string `yaml:"instruction_en"`
	// ReminderAfter is when a person who has not acknowledged is reminded,
	// and then again every ReminderAfter.
	ReminderAfter time.Duration `yaml:"reminder_after"`
	// Grace is how long people who acknowledged an earlier version keep
	// their access after a new version appears.
	Grace time.Duration `yaml:"grace"`
	// BotLocalpart is the onboarding bot's account on every homeserver
	// with people.
	BotLocalpart string `yaml:"bot_localpart"`
	// Line is where the section starts; 0 if the configuration has none
	// (then there is no onboarding and everyone is in their rooms at once).
	Line int `yaml:"-"`
}

// Offboarding configures what happens when a person leaves.
type Offboarding struct {
	// Erase asks Synapse to erase the messages of deactivated accounts
	// (GDPR erasure: they are no longer shown to users who join later).
	// Dendrite cannot erase; the flag is then reported as not honoured.
	Erase bool `yaml:"erase"`
}

// Externals configures accounts of people outside the Land administration
// (timber buyers, contractors), invited by tenant admins through the bot.
type Externals struct {
	// Homeserver holds the guest accounts; default: the homeserver of the
	// inviting tenant.
	Homeserver HomeserverName `yaml:"homeserver"`
	// LocalpartPrefix starts every guest's localpart, so that guests are
	// recognisable and never collide with staff ids. Default "ext.".
	LocalpartPrefix string `yaml:"localpart_prefix"`
	// DefaultValidity is how long a guest account lasts unless the invite
	// says otherwise. Default 90 days.
	DefaultValidity time.Duration `yaml:"default_validity"`
	// MaxValidity bounds an invite or an extension. Default 365 days.
	MaxValidity time.Duration `yaml:"max_validity"`
}

// Defaults of the lifecycle sections.
const (
	DefaultReminderAfter      = 3 * 24 * time.Hour
	DefaultGrace              = 14 * 24 * time.Hour
	DefaultOnboardingBot      = "lm-einweisung"
	DefaultExternalPrefix     = "ext."
	DefaultExternalValidity   = 90 * 24 * time.Hour
	DefaultExternalMaxValidty = 365 * 24 * time.Hour
)

var (
	onboardingKeys  = []string{"enabled", "version", "instruction_de", "instruction_en", "reminder_after", "grace", "bot_localpart"}
	offboardingKeys = []string{"erase"}
	externalsKeys   = []string{"homeserver", "localpart_prefix", "default_validity", "max_validity"}
)

// lifecycle decodes the onboarding, offboarding and externals sections.
func (d *decoder) lifecycle(top mapping, cfg *Config) {
	if top.has("onboarding") {
		m := d.child(top, "onboarding", onboardingKeys)
		o := &cfg.Onboarding
		o.Line = m.line
		o.Enabled = d.boolean(m, "enabled", true)
		o.Version = d.required(m, "version")
		o.InstructionDE = d.required(m, "instruction_de")
		o.InstructionEN = d.str(m, "instruction_en")
		for _, key := range []string{"instruction_de", "instruction_en"} {
			path := map[string]string{"instruction_de": o.InstructionDE, "instruction_en": o.InstructionEN}[key]
			if path == "" || !o.Enabled {
				continue // read when onboarding runs
			}
			if _, err := os.Stat(path); err != nil {
				f := join(m.path, key)
				d.addf(d.line(f, m.line), f, "cannot read the instruction: %v", err)
			}
		}
		o.ReminderAfter = d.duration(m, "reminder_after", DefaultReminderAfter)
		o.Grace = d.duration(m, "grace", DefaultGrace)
		for key, v := range map[string]time.Duration{"reminder_after": o.ReminderAfter, "grace": o.Grace} {
			if v < time.Minute {
				f := join(m.path, key)
				d.addf(d.line(f, m.line), f, "must be at least 1m, got %s", v)
			}
		}
		o.BotLocalpart = d.str(m, "bot_localpart")
		if o.BotLocalpart == "" {
			o.BotLocalpart = DefaultOnboardingBot
		} else if !localpartRE.MatchString(o.BotLocalpart) {
			f := join(m.path, "bot_localpart")
			d.addf(d.line(f, m.line), f, "invalid Matrix localpart %q (want lowercase letters, digits and ._=/+-)", o.BotLocalpart)
		}
		if o.BotLocalpart == cfg.Admin.BotLocalpart {
			f := join(m.path, "bot_localpart")
			d.addf(d.line(f, m.line), f, "%q is the admin bot's account: the onboarding bot needs one of its own", o.BotLocalpart)
		}
	}

	off := d.child(top, "offboarding", offboardingKeys)
	cfg.Offboarding.Erase = d.boolean(off, "erase", false)

	ex := d.child(top, "externals", externalsKeys)
	e := &cfg.Externals
	e.Homeserver = HomeserverName(d.str(ex, "homeserver"))
	if _, ok := cfg.Homeserver(e.Homeserver); e.Homeserver != "" && !ok && !d.homeserversDamaged {
		f := join(ex.path, "homeserver")
		d.addf(d.line(f, ex.line), f, "unknown homeserver %q (configured: %s)", e.Homeserver, configured(homeserverNames(cfg)))
	}
	e.LocalpartPrefix = d.str(ex, "localpart_prefix")
	if e.LocalpartPrefix == "" {
		e.LocalpartPrefix = DefaultExternalPrefix
	} else if !localpartRE.MatchString(e.LocalpartPrefix) {
		f := join(ex.path, "localpart_prefix")
		d.addf(d.line(f, ex.line), f, "invalid localpart prefix %q (want lowercase letters, digits and ._=/+-)", e.LocalpartPrefix)
	}
	e.DefaultValidity = d.duration(ex, "default_validity", DefaultExternalValidity)
	e.MaxValidity = d.duration(ex, "max_validity", DefaultExternalMaxValidty)
	if e.DefaultValidity <= 0 || e.DefaultValidity > e.MaxValidity {
		f := join(ex.path, "default_validity")
		d.addf(d.line(f, ex.line), f, "must be positive and at most max_validity (%s), got %s", e.MaxValidity, e.DefaultValidity)
	}
}
