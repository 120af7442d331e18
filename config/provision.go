package config

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"
)

// This file decodes and validates the parts of the configuration that
// drive provisioning: the units and rooms of tenants, the cross-tenant
// rooms, the directory sources and the provisioning settings.

// roomVersionRE matches Matrix room version identifiers.
var roomVersionRE = regexp.MustCompile(`^[a-z0-9.-]{1,32}$`)

// listDamaged reports whether the recovery from syntax errors may have
// lost an item of the list field key of m, or the id (the field idKey)
// of one; n is the number of items decoded. Only dropping the value of a
// field other than the id keeps the ids of the items.
func (d *decoder) listDamaged(m mapping, key, idKey string, n int) bool {
	for _, line := range d.lostIn(m, key) {
		if k, ok := d.damage.keys[line]; !ok || k == idKey {
			return true
		}
	}
	return m.damaged && n == 0
}

// strs decodes the field key of m, a list of strings. It returns the
// non-empty strings with the paths and lines of their items; other items
// are reported and left out.
func (d *decoder) strs(m mapping, key string) (values, fields []string, lines []int) {
	for i, item := range d.seq(m, key) {
		field := fmt.Sprintf("%s[%d]", join(m.path, key), i)
		n := resolve(item)
		line := item.Line
		if _, ok := d.paths[line]; !ok {
			d.paths[line] = field
		}
		switch {
		case isNull(n) || n.Kind == yaml.ScalarNode && n.Value == "":
			d.addf(line, field, msgEmpty)
		case n.Kind != yaml.ScalarNode:
			if len(d.damage.lostIn(n.Line, n)) == 0 {
				d.addf(line, field, "expected a string, got %s", describe(n))
			}
		default:
			values, fields, lines = append(values, n.Value), append(fields, field), append(lines, line)
		}
	}
	return values, fields, lines
}

// emptyList reports the list field key of m if it is an empty list,
// unless the recovery from syntax errors may have emptied it. It reports
// whether the field is missing or null.
func (d *decoder) emptyList(m mapping, key, what string) (unset bool) {
	if !m.has(key) {
		return true
	}
	e := m.entries[key]
	if n := resolve(e.value); n.Kind == yaml.SequenceNode && len(n.Content) == 0 && len(d.lostIn(m, key)) == 0 {
		d.addf(e.key.Line, join(m.path, key), "must list at least one %s", what)
	}
	return false
}

// notAllowed reports the fields of m named in keys, which are set but
// not allowed there, explaining why.
func (d *decoder) notAllowed(m mapping, keys []string, why string) {
	for _, key := range keys {
		if m.has(key) {
			d.addf(m.entries[key].key.Line, join(m.path, key), "%s", why)
		}
	}
}

// configured lists names for "unknown" problems.
func configured[T ~string](names []T) string {
	s := make([]string, len(names))
	for i, n := range names {
		s[i] = string(n)
	}
	return strings.Join(s, ", ")
}

// tenantIDs returns the ids of the tenants of cfg.
func tenantIDs(cfg *Config) []TenantID {
	ids := make([]TenantID, len(cfg.Tenants))
	for i, t := range cfg.Tenants {
		ids[i] = t.ID
	}
	return ids
}

// unitIDs returns the ids of the units of t.
func unitIDs(t *Tenant) []UnitID {
	ids := make([]UnitID, len(t.Units))
	for i, u := range t.Units {
		ids[i] = u.ID
	}
	return ids
}

// units decodes and validates the units of the tenant m into t.
func (d *decoder) units(m mapping, t *Tenant) {
	items := d.seq(m, "units")
	if d.listDamaged(m, "units", "id", len(items)) {
		d.unitsDamaged[t.ID] = true
	}
	firstLine := map[UnitID]int{}
	for i, item := range items {
		path := fmt.Sprintf("%s.units[%d]", m.path, i)
		um := d.mapping(item, path, item.Line, unitKeys)
		u := Unit{Line: um.line}
		u.ID = UnitID(d.required(um, "id"))
		if u.ID != "" {
			line := d.line(path+".id", um.line)
			switch first, dup := firstLine[u.ID]; {
			case !nameRE.MatchString(string(u.ID)):
				d.addf(line, path+".id", "invalid unit id %q (want lowercase letters, digits and hyphens)", u.ID)
			case dup:
				d.addf(line, path+".id", "duplicate unit id %q (first defined at line %d)", u.ID, first)
			default:
				firstLine[u.ID] = line
			}
		}
		u.Name = d.required(um, "name")
		t.Units = append(t.Units, u)
	}
}

// tenantRooms decodes and validates the extra rooms of the tenant m into
// t. It must run after units.
func (d *decoder) tenantRooms(m mapping, t *Tenant) {
	firstLine := map[RoomID]int{}
	for i, item := range d.seq(m, "rooms") {
		path := fmt.Sprintf("%s.rooms[%d]", m.path, i)
		rm := d.mapping(item, path, item.Line, roomKeys)
		r := d.room(rm, false, firstLine)
		d.notAllowed(rm, crossRoomOnly, "only allowed in cross-tenant rooms (the top-level rooms list)")

		units, fields, lines := d.strs(rm, "units")
		d.emptyList(rm, "units", "unit (leave units out for all people of the tenant)")
		listed := map[UnitID]int{}
		for k, s := range units {
			id := UnitID(s)
			first, dup := listed[id]
			switch {
			case dup:
				d.addf(lines[k], fields[k], "duplicate unit %q (first listed at line %d)", id, first)
			case d.unitsDamaged[t.ID]:
			default:
				if _, ok := t.Unit(id); !ok {
					d.addf(lines[k], fields[k], "unknown unit %q of tenant %q (configured: %s)", id, t.ID, configured(unitIDs(t)))
				}
			}
			if !dup {
				listed[id] = lines[k]
				r.Units = append(r.Units, id)
			}
		}
		t.Rooms = append(t.Rooms, r)
	}
}

// crossRooms decodes and validates the cross-tenant rooms. It must run
// after homeservers and tenants.
func (d *decoder) crossRooms(top mapping, cfg *Config) {
	firstLine := map[RoomID]int{}
	for i, item := range d.seq(top, "rooms") {
		path := fmt.Sprintf("rooms[%d]", i)
		m := d.mapping(item, path, item.Line, roomKeys)
		r := d.room(m, true, firstLine)
		d.notAllowed(m, tenantRoomOnly, "only allowed in rooms of a tenant")

		r.Host = HomeserverName(d.required(m, "host"))
		if r.Host != "" && !d.homeserversDamaged {
			if _, ok := cfg.Homeserver(r.Host); !ok {
				names := make([]HomeserverName, len(cfg.Homeservers))
				for k, h := range cfg.Homeservers {
					names[k] = h.Name
				}
				d.addf(d.line(path+".host", m.line), path+".host", "unknown homeserver %q (configured: %s)", r.Host, configured(names))
			}
		}

		tenants, fields, lines := d.strs(m, "tenants")
		if len(tenants) == 0 && d.emptyList(m, "tenants", "tenant") {
			d.missing(m, "tenants")
		}
		listed := map[TenantID]int{}
		for k, s := range tenants {
			id := TenantID(s)
			first, dup := listed[id]
			switch {
			case dup:
				d.addf(lines[k], fields[k], "duplicate tenant %q (first listed at line %d)", id, first)
			case d.tenantsDamaged:
			default:
				if _, ok := cfg.Tenant(id); !ok {
					d.addf(lines[k], fields[k], "unknown tenant %q (configured: %s)", id, configured(tenantIDs(cfg)))
				}
			}
			if !dup {
				listed[id] = lines[k]
				r.Tenants = append(r.Tenants, id)
			}
		}
		cfg.Rooms = append(cfg.Rooms, r)
	}
}

// room decodes and validates the fields common to tenant rooms and
// cross-tenant rooms (cross). firstLine holds the lines of the room ids
// seen so far among the rooms the room's id must be unique in.
func (d *decoder) room(m mapping, cross bool, firstLine map[RoomID]int) Room {
	path := m.path
	r := Room{Line: m.line}
	r.ID = RoomID(d.required(m, "id"))
	if r.ID != "" {
		line := d.line(path+".id", m.line)
		switch first, dup := firstLine[r.ID]; {
		case !nameRE.MatchString(string(r.ID)):
			d.addf(line, path+".id", "invalid room id %q (want lowercase letters, digits and hyphens)", r.ID)
		case r.ID.Reserved():
			d.addf(line, path+".id", "room id %q is reserved for the default rooms (space, allgemein, leitung, mitteilungen, verwaltung, willkommen and %s*)", r.ID, UnitRoomPrefix)
		case dup:
			d.addf(line, path+".id", "duplicate room id %q (first defined at line %d)", r.ID, first)
		default:
			firstLine[r.ID] = line
		}
	}
	r.Name = d.required(m, "name")
	r.Topic = d.str(m, "topic")

	r.Class = RoomClass(d.str(m, "class"))
	field := path + ".class"
	switch {
	case r.Class == "" && cross:
		r.Class = ClassCrossAgency
	case r.Class == "":
		r.Class = ClassInternal
	case !r.Class.Valid():
		d.addf(d.line(field, m.line), field, "invalid room class %q (want internal, cross-agency or external)", r.Class)
	case cross && r.Class == ClassInternal:
		d.addf(d.line(field, m.line), field, "cross-tenant rooms cannot be internal (want cross-agency or external)")
	}

	r.Audience = Audience(d.str(m, "audience"))
	field = path + ".audience"
	switch {
	case r.Audience == "" && cross:
		r.Audience = AudienceLeaders
	case r.Audience == "":
		r.Audience = AudienceAll
	case !r.Audience.Valid():
		d.addf(d.line(field, m.line), field, "invalid audience %q (want all or leaders)", r.Audience)
	}

	r.HistoryVisibility = d.str(m, "history_visibility")
	field = path + ".history_visibility"
	switch r.HistoryVisibility {
	case "":
		r.HistoryVisibility = DefaultHistoryVisibility
	case HistoryShared, HistoryInvited, HistoryJoined:
	case "world_readable":
		d.addf(d.line(field, m.line), field, "world_readable is not allowed: the history must not be readable without joining (want shared, invited or joined)")
	default:
		d.addf(d.line(field, m.line), field, "invalid history visibility %q (want shared, invited or joined)", r.HistoryVisibility)
	}
	return r
}

// directory decodes and validates the directory sources. It must run
// after tenants.
func (d *decoder) directory(top mapping, cfg *Config) {
	for i, item := range d.seq(top, "directory") {
		path := fmt.Sprintf("directory[%d]", i)
		m := d.mapping(item, path, item.Line, directoryKeys)
		s := DirectorySource{Line: m.line}
		s.Type = d.required(m, "type")
		switch s.Type {
		case "":
		case SourceFile:
			s.Path = d.required(m, "path")
			if s.Path != "" {
				field := path + ".path"
				if msg := directoryFileProblem(s.Path); msg != "" {
					d.addf(d.line(field, m.line), field, "%s", msg)
				}
			}
			d.notAllowed(m, ldapSourceOnly, "only allowed in ldap sources")
		case SourceLDAP:
			d.ldap(m, &s, cfg)
			d.notAllowed(m, fileSourceOnly, "only allowed in file sources")
		default:
			field := path + ".type"
			d.addf(d.line(field, m.line), field, "invalid directory source type %q (want file or ldap)", s.Type)
		}
		cfg.Directory = append(cfg.Directory, s)
	}
}

// ldap decodes and validates the fields of the LDAP source m into s.
func (d *decoder) ldap(m mapping, s *DirectorySource, cfg *Config) {
	path := m.path
	s.URL = d.required(m, "url")
	if s.URL != "" {
		if msg := ldapURLProblem(s.URL); msg != "" {
			d.addf(d.line(path+".url", m.line), path+".url", "%s", msg)
		}
	}
	s.StartTLS = d.boolean(m, "start_tls", false)
	s.Insecure = d.boolean(m, "insecure", false)
	s.CAFile = d.str(m, "ca_file")
	if s.CAFile != "" {
		if _, err := os.Stat(s.CAFile); err != nil {
			d.addf(d.line(path+".ca_file", m.line), path+".ca_file", "cannot read the CA file: %v", err)
		}
	}
	if u, err := url.Parse(s.URL); s.URL != "" && err == nil {
		switch {
		case u.Scheme == "ldaps" && s.StartTLS:
			d.addf(d.line(path+".start_tls", m.line), path+".start_tls", "ldaps:// is TLS already: drop start_tls, or use ldap:// with it")
		case u.Scheme == "ldap" && !s.StartTLS && !s.Insecure && !IsLoopbackHost(u.Hostname()):
			d.addf(d.line(path+".url", m.line), path+".url",
				"ldap:// to %s without start_tls sends the bind password in clear: use ldaps://, or start_tls: true, or set insecure: true to allow it", u.Host)
		}
	}
	s.BindDN = d.str(m, "bind_dn")
	s.BindPasswordFile = d.secretFile(m, "bind_password_file")
	s.BaseDN = d.required(m, "base_dn")
	s.Filter = d.str(m, "filter")
	if s.Filter == "" {
		s.Filter = DefaultLDAPFilter
	} else if !balancedFilter(s.Filter) {
		d.addf(d.line(path+".filter", m.line), path+".filter", "invalid LDAP filter %q (want a filter in parentheses, e.g. %s)", s.Filter, DefaultLDAPFilter)
	}

	am := d.child(m, "attributes", DirectoryAttributes())
	for _, key := range DirectoryAttributes() {
		if _, ok := am.entries[key]; !ok {
			continue
		}
		v := d.str(am, key)
		if v == "" {
			d.missing(am, key)
			continue
		}
		if s.Attributes == nil {
			s.Attributes = map[string]string{}
		}
		s.Attributes[key] = v
	}

	s.MemberAttribute = d.str(m, "member_attribute")
	if s.MemberAttribute == "" {
		s.MemberAttribute = DefaultMemberAttribute
	}

	for i, item := range d.seq(m, "groups") {
		gpath := fmt.Sprintf("%s.groups[%d]", path, i)
		gm := d.mapping(item, gpath, item.Line, groupKeys)
		var g DirectoryGroup
		g.DN = d.required(gm, "dn")
		g.Tenant = TenantID(d.str(gm, "tenant"))
		var tenant *Tenant
		if g.Tenant != "" {
			var ok bool
			tenant, ok = cfg.Tenant(g.Tenant)
			if !ok && !d.tenantsDamaged {
				d.addf(d.line(gpath+".tenant", gm.line), gpath+".tenant", "unknown tenant %q (configured: %s)", g.Tenant, configured(tenantIDs(cfg)))
			}
		}
		g.Unit = UnitID(d.str(gm, "unit"))
		if g.Unit != "" {
			field := gpath + ".unit"
			switch {
			case g.Tenant == "":
				if !gm.damaged {
					d.addf(d.line(field, gm.line), field, "requires tenant (units belong to a tenant)")
				}
			case tenant == nil || d.unitsDamaged[g.Tenant]:
			default:
				if _, ok := tenant.Unit(g.Unit); !ok {
					d.addf(d.line(field, gm.line), field, "unknown unit %q of tenant %q (configured: %s)", g.Unit, g.Tenant, configured(unitIDs(tenant)))
				}
			}
		}
		g.Role = d.str(gm, "role")
		switch g.Role {
		case "", "member", "moderator", "admin":
		default:
			d.addf(d.line(gpath+".role", gm.line), gpath+".role", "invalid role %q (want member, moderator or admin)", g.Role)
		}
		s.Groups = append(s.Groups, g)
	}

	s.Timeout = d.duration(m, "timeout", DefaultDirectoryTimeout)
	if s.Timeout <= 0 {
		field := path + ".timeout"
		d.addf(d.line(field, m.line), field, "must be positive, got %s", s.Timeout)
	}
}

// provisioning decodes and validates the provisioning settings, applying
// the defaults.
func (d *decoder) provisioning(top mapping, cfg *Config) {
	m := d.child(top, "provisioning", provisioningKeys)
	p := &cfg.Provisioning
	field := func(key string) (int, string) {
		f := join(m.path, key)
		return d.line(f, m.line), f
	}

	p.Interval = d.duration(m, "interval", DefaultInterval)
	if p.Interval < MinInterval {
		line, f := field("interval")
		d.addf(line, f, "must be at least %s, got %s", MinInterval, p.Interval)
	}

	p.MaxRemovalShare = d.number(m, "max_removal_share", DefaultMaxRemovalShare)
	if !(p.MaxRemovalShare > 0 && p.MaxRemovalShare <= 1) {
		line, f := field("max_removal_share")
		d.addf(line, f, "must be greater than 0 and at most 1, got %v", p.MaxRemovalShare)
	}

	p.DeactivateRemoved = d.boolean(m, "deactivate_removed", DefaultDeactivateRemoved)

	p.CredentialsFile = d.str(m, "credentials_file")
	if p.CredentialsFile == "" {
		p.CredentialsFile = DefaultCredentialsFile
	}

	p.Concurrency = d.integer(m, "concurrency", DefaultConcurrency)
	if p.Concurrency < 1 || p.Concurrency > MaxConcurrency {
		line, f := field("concurrency")
		d.addf(line, f, "must be between 1 and %d, got %d", MaxConcurrency, p.Concurrency)
	}

	p.RoomVersion = d.str(m, "room_version")
	if p.RoomVersion != "" && !roomVersionRE.MatchString(p.RoomVersion) {
		line, f := field("room_version")
		d.addf(line, f, "invalid room version %q (want up to 32 of a-z, 0-9, '.' and '-', e.g. 11)", p.RoomVersion)
	}
}

// duration decodes the duration field key of m, a Go duration such as
// "5m", or returns def if it is missing or null.
func (d *decoder) duration(m mapping, key string, def time.Duration) time.Duration {
	n := d.scalar(m, key, "a duration")
	if n == nil {
		return def
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		d.addf(n.Line, join(m.path, key), "invalid duration %q (want a number with a unit, e.g. 30s, 5m or 1h)", n.Value)
		return def
	}
	return v
}

// integer decodes the integer field key of m, or returns def if it is
// missing or null.
func (d *decoder) integer(m mapping, key string, def int) int {
	n := d.scalar(m, key, "an integer")
	if n == nil {
		return def
	}
	var v int
	if n.ShortTag() != "!!int" || n.Decode(&v) != nil {
		d.addf(n.Line, join(m.path, key), "expected an integer, got %q", n.Value)
		return def
	}
	return v
}

// number decodes the number field key of m, or returns def if it is
// missing or null.
func (d *decoder) number(m mapping, key string, def float64) float64 {
	n := d.scalar(m, key, "a number")
	if n == nil {
		return def
	}
	var v float64
	if tag := n.ShortTag(); tag != "!!int" && tag != "!!float" || n.Decode(&v) != nil {
		d.addf(n.Line, join(m.path, key), "expected a number, got %q", n.Value)
		return def
	}
	return v
}

// boolean decodes the boolean field key of m, or returns def if it is
// missing or null.
func (d *decoder) boolean(m mapping, key string, def bool) bool {
	n := d.scalar(m, key, "a boolean")
	if n == nil {
		return def
	}
	var v bool
	if n.ShortTag() != "!!bool" || n.Decode(&v) != nil {
		d.addf(n.Line, join(m.path, key), "expected true or false, got %q", n.Value)
		return def
	}
	return v
}

// ldapURLProblem validates the URL of an LDAP server and returns a
// problem message, or "".
func ldapURLProblem(raw string) string {
	return urlProblem(raw, "must be an ldap:// or ldaps:// URL", "ldap", "ldaps")
}

// balancedFilter reports whether filter is enclosed in parentheses that
// balance. Parentheses in values are escaped as \28 and \29 in LDAP
// filters, so they are not counted.
func balancedFilter(filter string) bool {
	if !strings.HasPrefix(filter, "(") || !strings.HasSuffix(filter, ")") {
		return false
	}
	depth := 0
	for i, c := range filter {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		}
		if depth < 0 || depth == 0 && i < len(filter)-1 {
			return false
		}
	}
	return depth == 0
}

// directoryFileProblem checks the file of a file directory source and
// returns a problem message, or "" if it is a readable YAML or CSV file.
func directoryFileProblem(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml", ".csv":
	default:
		return fmt.Sprintf("unsupported directory file %q (want a .yaml, .yml or .csv file)", path)
	}
	info, err := os.Stat(path)
	switch {
	case err != nil:
		return fileProblem("directory file", path, err)
	case info.IsDir():
		return fmt.Sprintf("cannot read directory file %q: is a directory", path)
	}
	// Opened, not read: the file may be large, and is read by the
	// directory package.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return fileProblem("directory file", path, err)
	}
	f.Close()
	return ""
}
