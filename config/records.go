package config

import (
	"time"

	"slices"
)

// Records configures the records archive's bot (Aktenführung): which rooms
// it is a member of, so that members can mark messages there for filing.
type Records struct {
	// Classes are the room classes whose rooms the archive bot joins.
	Classes []RoomClass `yaml:"classes"`
	// Rooms are further rooms it joins, by room key as in
	// retention.rooms ("hmdis/allgemein", "rooms/landeslage" written
	// "landeslage").
	Rooms []string `yaml:"rooms"`
	// BotLocalpart is the localpart of the archive bot's account on every
	// homeserver with such rooms; DefaultArchiveBot when unset.
	BotLocalpart string `yaml:"bot_localpart"`
	// UnfiledAfter is how long a mark that could not be filed (a 📁
	// without a case reference, an attachment too large) keeps its
	// message; then the tenant's admins are told, and the message is
	// deleted when its retention says so. DefaultUnfiledAfter when unset.
	UnfiledAfter time.Duration `yaml:"unfiled_after"`
	// Line is the line of "records:"; 0 if the configuration has none.
	Line int `yaml:"-"`
}

// DefaultArchiveBot is records.bot_localpart when unset.
const DefaultArchiveBot = "lm-archiv"

// DefaultUnfiledAfter is records.unfiled_after when unset.
const DefaultUnfiledAfter = 30 * 24 * time.Hour

// Enabled reports whether any room gets the archive bot.
func (r *Records) Enabled() bool { return len(r.Classes) > 0 || len(r.Rooms) > 0 }

// Covers reports whether the room with key room and class gets the
// archive bot.
func (r *Records) Covers(room string, class RoomClass) bool {
	return slices.Contains(r.Classes, class) || slices.Contains(r.Rooms, room)
}

var recordsKeys = []string{"classes", "rooms", "bot_localpart", "unfiled_after"}

// records decodes the records section. It must run after tenants,
// crossRooms and admin.
func (d *decoder) records(top mapping, cfg *Config) {
	r := &cfg.Records
	r.BotLocalpart = DefaultArchiveBot
	r.UnfiledAfter = DefaultUnfiledAfter
	if !top.has("records") {
		return
	}
	m := d.child(top, "records", recordsKeys)
	r.UnfiledAfter = d.duration(m, "unfiled_after", DefaultUnfiledAfter)
	if r.UnfiledAfter < time.Hour {
		f := join(m.path, "unfiled_after")
		d.addf(d.line(f, m.line), f, "must be at least 1h, got %s", r.UnfiledAfter)
	}
	r.Line = top.entries["records"].key.Line
	classes, fields, lines := d.strs(m, "classes")
	for i, c := range classes {
		class := RoomClass(c)
		if !class.Valid() {
			d.addf(lines[i], fields[i], "invalid room class %q (want internal, cross-agency or external)", c)
			continue
		}
		r.Classes = append(r.Classes, class)
	}
	rooms, fields, lines := d.strs(m, "rooms")
	for i, name := range rooms {
		key, msg := retentionRoomKey(cfg, name)
		if msg != "" {
			if !d.tenantsDamaged {
				d.addf(lines[i], fields[i], "%s", msg)
			}
			continue
		}
		r.Rooms = append(r.Rooms, key)
	}
	if lp := d.str(m, "bot_localpart"); lp != "" {
		f := join(m.path, "bot_localpart")
		switch {
		case !localpartRE.MatchString(lp):
			d.addf(d.line(f, m.line), f, "invalid Matrix localpart %q (want lowercase letters, digits and ._=/+-)", lp)
		case lp == cfg.Admin.BotLocalpart || lp == cfg.Onboarding.BotLocalpart:
			d.addf(d.line(f, m.line), f, "%q is another bot's account: the archive bot needs one of its own", lp)
		default:
			r.BotLocalpart = lp
		}
	}
}
