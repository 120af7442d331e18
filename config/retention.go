package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Retention says how long the messages of the managed rooms are kept. A
// room's policy is the most specific rule that applies to it: the room's
// own rule, else its tenant's rule for the room's class, else its tenant's
// rule, else the rule of its class, else Default. A room no rule applies to
// keeps its messages forever and gets no m.room.retention event.
// Cross-tenant rooms (and the Land-wide admin room) have no tenant: only
// their own rule, their class's rule and Default apply to them.
type Retention struct {
	// Default applies to every room no other rule covers; nil if none.
	Default *RetentionRule `yaml:"default"`
	// Classes hold a rule per room class.
	Classes map[RoomClass]RetentionRule `yaml:"classes"`
	// Tenants hold the rules of each tenant.
	Tenants map[TenantID]TenantRetention `yaml:"tenants"`
	// Rooms hold the rules of single rooms by room key: "hmdis/allgemein"
	// for a room of a tenant (its default rooms included, e.g.
	// "polizei/unit-pp-kassel"), "rooms/landeslage" for the cross-tenant
	// room written as "landeslage" in the file.
	Rooms map[string]RetentionRule `yaml:"rooms"`
	// Bounds is the range of max_lifetime admins may set through the
	// admin bot. It does not restrict the rules of this file.
	Bounds RetentionBounds `yaml:"bounds"`
	// SweepEvery is how often serve's retention worker looks for expired
	// messages; DefaultSweepEvery when unset.
	SweepEvery time.Duration `yaml:"sweep_every"`
	// Line is the line of "retention:"; 0 if the configuration has none.
	Line int `yaml:"-"`
}

// RetentionRule is the retention of the rooms a rule covers.
type RetentionRule struct {
	// MaxLifetime is how long a message is kept at most; 0 keeps messages
	// forever ("forever" in the file). Otherwise it is at least
	// MinMaxLifetime.
	MaxLifetime time.Duration `yaml:"max_lifetime"`
	// MinLifetime is how long a message is kept at least, even if someone
	// asks for it to go earlier; 0 for no minimum. It never exceeds a
	// MaxLifetime other than 0.
	MinLifetime time.Duration `yaml:"min_lifetime"`
	// Line is the line of the rule's key in the file ("default:",
	// "polizei:", "landeslage:").
	Line int `yaml:"-"`
}

// TenantRetention holds the rules of one tenant.
type TenantRetention struct {
	// Rule covers every room of the tenant not covered by Classes; nil if
	// the tenant has only rules per class. Its max_lifetime and
	// min_lifetime stand beside classes in the file.
	Rule *RetentionRule `yaml:"-"`
	// Classes hold a rule per room class for the tenant's rooms.
	Classes map[RoomClass]RetentionRule `yaml:"classes"`
}

// RetentionBounds is the range of max_lifetime values that admins may set
// through the admin bot.
type RetentionBounds struct {
	// Min is the shortest max_lifetime; at least MinMaxLifetime.
	Min time.Duration `yaml:"min"`
	// Max is the longest max_lifetime; 0 ("forever") lets admins keep
	// messages forever too.
	Max time.Duration `yaml:"max"`
}

// Allows reports whether an admin may set maxLifetime (0 = forever).
func (b RetentionBounds) Allows(maxLifetime time.Duration) bool {
	if maxLifetime == 0 {
		return b.Max == 0
	}
	return maxLifetime >= b.Min && (b.Max == 0 || maxLifetime <= b.Max)
}

// Retention limits and defaults.
const (
	// MinMaxLifetime is the shortest max_lifetime a rule may have: shorter
	// ones are more likely a slip of the unit (30m for 30d) than a policy.
	MinMaxLifetime = 24 * time.Hour
	// DefaultSweepEvery is retention.sweep_every when unset.
	DefaultSweepEvery = time.Hour
	// DefaultRetentionBoundMin is retention.bounds.min when unset.
	DefaultRetentionBoundMin = MinMaxLifetime
	// Forever is the word for "no maximum" in the file.
	Forever = "forever"
)

var (
	retentionKeys       = []string{"default", "bounds", "classes", "tenants", "rooms", "sweep_every"}
	retentionRuleKeys   = []string{"max_lifetime", "min_lifetime"}
	retentionTenantKeys = []string{"max_lifetime", "min_lifetime", "classes"}
	retentionBoundsKeys = []string{"min", "max"}
)

// ParseLifetime parses a retention duration: a Go duration ("720h") or a
// whole number of days ("30d"). It returns 0 for "forever" when forever is
// allowed. Durations that are not positive are refused, so that "0d" is
// never read as "forever".
func ParseLifetime(s string, forever bool) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if forever && s == Forever {
		return 0, nil
	}
	want := "want a duration such as 30d or 720h"
	if forever {
		want += ", or " + Forever
	}
	var v time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n < 0 || n > int64(1<<63-1)/int64(24*time.Hour) {
			return 0, fmt.Errorf("invalid duration %q (%s)", s, want)
		}
		v = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if v, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("invalid duration %q (%s)", s, want)
		}
	}
	if v <= 0 {
		return 0, fmt.Errorf("must be positive, got %q (%s)", s, want)
	}
	return v, nil
}

// FormatLifetime formats a retention duration the way the file writes it:
// whole days as "30d", anything else as a Go duration, 0 as "forever".
func FormatLifetime(v time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case v == 0:
		return Forever
	case v%day == 0:
		return fmt.Sprintf("%dd", v/day)
	}
	return v.String()
}

// retention decodes and validates the retention section. It must run after
// tenants and crossRooms.
func (d *decoder) retention(top mapping, cfg *Config) {
	r := &cfg.Retention
	r.Bounds.Min = DefaultRetentionBoundMin
	r.SweepEvery = DefaultSweepEvery
	if !top.has("retention") {
		return
	}
	m := d.child(top, "retention", retentionKeys)
	r.Line = top.entries["retention"].key.Line
	r.SweepEvery = d.duration(m, "sweep_every", DefaultSweepEvery)
	if r.SweepEvery < time.Second {
		f := join(m.path, "sweep_every")
		d.addf(d.line(f, m.line), f, "must be at least 1s, got %s", r.SweepEvery)
	}

	if m.has("default") {
		rule, ok := d.retentionRule(d.child(m, "default", retentionRuleKeys), m.entries["default"].key.Line)
		if ok {
			r.Default = &rule
		}
	}
	r.Classes = d.retentionClasses(m)

	for _, e := range d.dict(m, "tenants") {
		tid := TenantID(e.key.Value)
		field := join(m.path, "tenants."+e.key.Value)
		if _, ok := cfg.Tenant(tid); !ok && !d.tenantsDamaged {
			d.addf(e.key.Line, field, "unknown tenant %q (configured: %s)", tid, configured(tenantIDs(cfg)))
		}
		tm := d.mapping(e.value, field, e.key.Line, retentionTenantKeys)
		var tr TenantRetention
		if tm.has("max_lifetime") || tm.has("min_lifetime") || !tm.has("classes") {
			if rule, ok := d.retentionRule(tm, e.key.Line); ok {
				tr.Rule = &rule
			}
		}
		tr.Classes = d.retentionClasses(tm)
		if r.Tenants == nil {
			r.Tenants = map[TenantID]TenantRetention{}
		}
		r.Tenants[tid] = tr
	}

	for _, e := range d.dict(m, "rooms") {
		field := join(m.path, "rooms."+e.key.Value)
		key, msg := retentionRoomKey(cfg, e.key.Value)
		tenant, _, _ := strings.Cut(e.key.Value, "/")
		if msg != "" && !d.tenantsDamaged && !d.unitsDamaged[TenantID(tenant)] {
			d.addf(e.key.Line, field, "%s", msg)
		}
		rule, ok := d.retentionRule(d.mapping(e.value, field, e.key.Line, retentionRuleKeys), e.key.Line)
		if !ok || key == "" {
			continue
		}
		if r.Rooms == nil {
			r.Rooms = map[string]RetentionRule{}
		}
		r.Rooms[key] = rule
	}

	b := d.child(m, "bounds", retentionBoundsKeys)
	r.Bounds.Min = d.lifetime(b, "min", false, DefaultRetentionBoundMin)
	r.Bounds.Max = d.lifetime(b, "max", true, 0)
	if r.Bounds.Min < MinMaxLifetime {
		f := join(b.path, "min")
		d.addf(d.line(f, b.line), f, "must be at least %s, got %s", FormatLifetime(MinMaxLifetime), FormatLifetime(r.Bounds.Min))
	} else if r.Bounds.Max != 0 && r.Bounds.Max < r.Bounds.Min {
		f := join(b.path, "max")
		d.addf(d.line(f, b.line), f, "must not be less than min (%s), got %s", FormatLifetime(r.Bounds.Min), FormatLifetime(r.Bounds.Max))
	}
}

// retentionClasses decodes the classes field of m: a rule per room class.
func (d *decoder) retentionClasses(m mapping) map[RoomClass]RetentionRule {
	var out map[RoomClass]RetentionRule
	for _, e := range d.dict(m, "classes") {
		class := RoomClass(e.key.Value)
		field := join(m.path, "classes."+e.key.Value)
		if !class.Valid() {
			d.addf(e.key.Line, field, "invalid room class %q (want internal, cross-agency or external)", class)
		}
		rule, ok := d.retentionRule(d.mapping(e.value, field, e.key.Line, retentionRuleKeys), e.key.Line)
		if !ok || !class.Valid() {
			continue
		}
		if out == nil {
			out = map[RoomClass]RetentionRule{}
		}
		out[class] = rule
	}
	return out
}

// retentionRule decodes and validates the rule m, whose key is on line.
// max_lifetime is required (a duration or "forever"). It reports whether the
// rule is valid.
func (d *decoder) retentionRule(m mapping, line int) (RetentionRule, bool) {
	rule := RetentionRule{Line: line}
	problems := len(d.problems)
	if !m.has("max_lifetime") {
		d.missing(m, "max_lifetime", "a duration such as 30d, or forever")
		return rule, false
	}
	rule.MaxLifetime = d.lifetime(m, "max_lifetime", true, 0)
	rule.MinLifetime = d.lifetime(m, "min_lifetime", false, 0)
	if len(d.problems) > problems {
		return rule, false
	}
	if rule.MaxLifetime != 0 && rule.MaxLifetime < MinMaxLifetime {
		f := join(m.path, "max_lifetime")
		d.addf(d.line(f, m.line), f, "must be at least %s (or %s), got %s", FormatLifetime(MinMaxLifetime), Forever, FormatLifetime(rule.MaxLifetime))
		return rule, false
	}
	if rule.MaxLifetime != 0 && rule.MinLifetime > rule.MaxLifetime {
		f := join(m.path, "min_lifetime")
		d.addf(d.line(f, m.line), f, "must not exceed max_lifetime (%s), got %s", FormatLifetime(rule.MaxLifetime), FormatLifetime(rule.MinLifetime))
		return rule, false
	}
	return rule, true
}

// lifetime decodes the retention duration field key of m (see
// ParseLifetime), or returns def if it is missing or null.
func (d *decoder) lifetime(m mapping, key string, forever bool, def time.Duration) time.Duration {
	n := d.scalar(m, key, "a duration")
	if n == nil {
		return def
	}
	v, err := ParseLifetime(n.Value, forever)
	if err != nil {
		d.addf(n.Line, join(m.path, key), "%v", err)
		return def
	}
	return v
}

// dict returns the entries of the mapping field key of m, whose keys are
// data (tenant ids, room keys, classes) rather than field names, in file
// order. Keys that are not strings, repeated keys and values that are not
// mappings are reported and left out.
func (d *decoder) dict(m mapping, key string) []entry {
	e, ok := m.entries[key]
	if !ok || isNull(e.value) {
		return nil
	}
	field := join(m.path, key)
	n := resolve(e.value)
	if n.Kind != yaml.MappingNode {
		if len(d.lostIn(m, key)) == 0 && !d.damage.patched[e.key.Line] {
			d.addf(n.Line, field, "expected a mapping, got %s", describe(n))
		}
		return nil
	}
	var out []entry
	first := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" || k.Value == "" {
			d.addf(k.Line, field, "expected a name, got %s", describe(k))
			continue
		}
		if _, seen := d.paths[k.Line]; !seen {
			d.paths[k.Line] = join(field, k.Value)
		}
		if line, dup := first[k.Value]; dup {
			d.addf(k.Line, join(field, k.Value), "%s (first defined at line %d)", msgDuplicate, line)
			continue
		}
		first[k.Value] = k.Line
		if rv := resolve(v); !isNull(rv) && rv.Kind != yaml.MappingNode {
			if len(d.damage.lostIn(rv.Line, rv)) == 0 && !d.damage.patched[k.Line] {
				d.addf(rv.Line, join(field, k.Value), "expected a mapping, got %s", describe(rv))
			}
			continue
		}
		out = append(out, entry{key: k, value: v})
	}
	return out
}

// retentionRoomKey returns the room key that name, a key of
// retention.rooms, stands for: "TENANT/ROOM" for a room of a tenant, or
// "rooms/ROOM" for the cross-tenant room ROOM. The message says why name
// is no managed room; the key is "" then.
func retentionRoomKey(cfg *Config, name string) (key, msg string) {
	tenant, room, isTenantRoom := strings.Cut(name, "/")
	if !isTenantRoom {
		id := RoomID(name)
		if _, ok := cfg.Room(id); ok || id == RoomVerwaltung {
			return "rooms/" + name, ""
		}
		names := []RoomID{RoomVerwaltung}
		for _, r := range cfg.Rooms {
			names = append(names, r.ID)
		}
		return "", fmt.Sprintf("unknown cross-tenant room %q (configured: %s; rooms of a tenant are written TENANT/ROOM)", name, configured(names))
	}
	t, ok := cfg.Tenant(TenantID(tenant))
	if !ok {
		return "", fmt.Sprintf("unknown tenant %q in room %q (configured: %s)", tenant, name, configured(tenantIDs(cfg)))
	}
	id := RoomID(room)
	if _, ok := t.Room(id); ok {
		return name, ""
	}
	for _, r := range ReservedRoomIDs() {
		if id == r {
			return name, ""
		}
	}
	if u, isUnit := strings.CutPrefix(room, UnitRoomPrefix); isUnit {
		if _, ok := t.Unit(UnitID(u)); ok {
			return name, ""
		}
	}
	names := append([]RoomID(nil), ReservedRoomIDs()...)
	for _, u := range t.Units {
		names = append(names, RoomID(UnitRoomPrefix+string(u.ID)))
	}
	for _, r := range t.Rooms {
		names = append(names, r.ID)
	}
	return "", fmt.Sprintf("unknown room %q of tenant %q (its rooms: %s)", room, tenant, configured(names))
}
