package provisioning

import (
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"

	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/federation"
	"github.com/landesmessenger/landesmessenger/retention"
)

// Environment is what Build needs to know about the homeservers beyond the
// configuration: their server names and service accounts, and the room
// version new rooms get.
type Environment struct {
	ServerNames map[config.HomeserverName]string
	Service     map[config.HomeserverName]id.UserID
	// Bots are the admin bot's accounts by homeserver (see BotUserIDs);
	// without them Build makes no management rooms.
	Bots map[config.HomeserverName]id.UserID
	// Welcome makes every tenant a welcome room (onboarding is on): people
	// still Pending are there, and only there.
	Welcome bool
	// Handovers give successors the power of people who left.
	Handovers []Handover
	// RoomVersion new rooms get; DefaultRoomVersion if empty.
	RoomVersion string
	// Federation is the Land's verified federation list; nil if none is
	// configured. It narrows the servers every room admits.
	Federation *federation.List
	// Archivists are the archive bot's accounts by homeserver; each is a
	// member (without power) of the rooms on its homeserver that the
	// configuration's records section covers. Nil: no archive bot.
	Archivists map[config.HomeserverName]id.UserID
}

// DefaultRoomVersion is the room version of new rooms unless configured:
// version 10, which Dendrite v0.13.8 and Synapse both support. Version 12
// (creators with unlimited power) needs every homeserver of the federation
// to be Synapse.
const DefaultRoomVersion = "10"

// The keys of a tenant's default rooms.
const (
	roomSpace        = "space"
	roomGeneral      = "allgemein"
	roomLeadership   = "leitung"
	roomAnnouncement = "mitteilungen"
)

// TenantRoomKey returns the key of room id of tenant t.
func TenantRoomKey(t config.TenantID, room string) RoomKey {
	return RoomKey(string(t) + "/" + room)
}

// CrossRoomKey returns the key of the cross-tenant room id.
func CrossRoomKey(room config.RoomID) RoomKey { return RoomKey("rooms/" + string(room)) }

// AliasOf returns the alias localpart of key: "lm.hmdis.allgemein".
func AliasOf(key RoomKey) string { return "lm." + strings.ReplaceAll(string(key), "/", ".") }

// Build derives the desired state from the configuration and the people of
// the directory. People must be valid (see directory.Validate): every tenant
// and unit they name exists.
func Build(cfg *config.Config, people []Person, env Environment) (*Desired, error) {
	d := &Desired{
		Accounts:    map[id.UserID]*Account{},
		Rooms:       map[RoomKey]*Room{},
		Service:     env.Service,
		Bots:        env.Bots,
		Archivists:  env.Archivists,
		ServerNames: env.ServerNames,
	}
	b := &builder{d: d, env: env, retention: &cfg.Retention, records: &cfg.Records, userOf: map[PersonID]id.UserID{}, tenantHost: map[config.TenantID]config.HomeserverName{}}
	for _, t := range cfg.Tenants {
		b.tenantHost[t.ID] = t.Homeserver
	}
	if env.RoomVersion == "" {
		env.RoomVersion = DefaultRoomVersion
	}
	for _, hs := range cfg.Homeservers {
		if env.ServerNames[hs.Name] == "" || env.Service[hs.Name] == "" {
			return nil, fmt.Errorf("homeserver %s: server name or service account unknown", hs.Name)
		}
	}
	tenantsOn := map[config.HomeserverName]int{}
	for _, t := range cfg.Tenants {
		tenantsOn[t.Homeserver]++
	}
	byTenant := map[config.TenantID][]Person{}
	pending := map[config.TenantID][]Person{}
	var guests []Person
	byUnit := map[config.TenantID]map[config.UnitID][]Person{}
	userOf := b.userOf
	for _, p := range people {
		t, ok := cfg.Tenant(p.Tenant)
		if !ok {
			return nil, fmt.Errorf("person %s: unknown tenant %q", p.ID, p.Tenant)
		}
		hs := t.Homeserver
		if p.External && p.Homeserver != "" {
			hs = p.Homeserver
		}
		uid := id.NewUserID(string(p.ID), env.ServerNames[hs])
		userOf[p.ID] = uid
		d.Accounts[uid] = &Account{UserID: uid, Person: p.ID, Tenant: p.Tenant, Homeserver: hs, DisplayName: p.DisplayName, Locked: p.Disabled}
		switch {
		case p.Disabled:
			continue // in no room
		case p.External:
			guests = append(guests, p)
			continue // only in the rooms they are invited to
		case p.Pending && env.Welcome:
			pending[p.Tenant] = append(pending[p.Tenant], p)
			continue // only in the welcome room
		}
		byTenant[p.Tenant] = append(byTenant[p.Tenant], p)
		if byUnit[p.Tenant] == nil {
			byUnit[p.Tenant] = map[config.UnitID][]Person{}
		}
		byUnit[p.Tenant][p.Unit] = append(byUnit[p.Tenant][p.Unit], p)
	}

	for i := range cfg.Tenants {
		t := &cfg.Tenants[i]
		host := t.Homeserver
		internalFederate := tenantsOn[host] > 1
		ppl := byTenant[t.ID]
		space := &Room{
			Key: TenantRoomKey(t.ID, roomSpace), Tenant: t.ID, Tenants: []config.TenantID{t.ID}, Homeserver: host, Space: true,
			Class: config.ClassInternal, Federate: internalFederate,
		}
		space.State.Name = t.Name
		space.State.Topic = fmt.Sprintf("Bereich von %s im Landesmessenger.", t.Name)
		b.add(space, ppl, all, nil)

		add := func(key string, class config.RoomClass, name, topic, history string, announce bool, candidates []Person, who func(Person) bool) {
			r := &Room{
				Key: TenantRoomKey(t.ID, key), Tenant: t.ID, Tenants: []config.TenantID{t.ID}, Homeserver: host,
				Class: class, Federate: class != config.ClassInternal || internalFederate,
			}
			r.State.Name, r.State.Topic, r.State.HistoryVisibility = name, topic, history
			b.add(r, candidates, who, func(pl *PowerLevels) {
				if announce {
					pl.EventsDefault = PowerModerator
				}
			})
			space.Children = append(space.Children, r.Key)
		}
		short := t.ShortName
		leaders := func(p Person) bool { return p.Role.leader() }
		add(roomGeneral, config.ClassInternal, short+" Allgemein",
			fmt.Sprintf("Allgemeiner Raum aller Beschäftigten von %s.", t.Name), "", false, ppl, all)
		add(roomLeadership, config.ClassInternal, short+" Leitung",
			fmt.Sprintf("Raum der Leitung von %s.", t.Name), "", false, ppl, leaders)
		add(roomAnnouncement, config.ClassInternal, short+" Mitteilungen",
			fmt.Sprintf("Mitteilungen an alle Beschäftigten von %s. Nur Moderatorinnen und Moderatoren schreiben hier.", t.Name), "", true, ppl, all)
		if env.Welcome {
			// Everyone of the tenant, those still to acknowledge the
			// instruction among them; not a child of the space.
			w := &Room{
				Key: TenantRoomKey(t.ID, string(config.RoomWillkommen)), Tenant: t.ID, Tenants: []config.TenantID{t.ID}, Homeserver: host,
				Class: config.ClassInternal, Federate: internalFederate,
			}
			w.State.Name = short + " Willkommen"
			w.State.Topic = fmt.Sprintf("Willkommen bei %s im Landesmessenger. Die dienstlichen Räume öffnen sich, sobald die Datenschutz-Einweisung bestätigt ist (Direktnachricht des Landesmessengers).", t.Name)
			b.add(w, append(append([]Person(nil), ppl...), pending[t.ID]...), all, func(pl *PowerLevels) { pl.EventsDefault = PowerModerator })
		}
		for _, u := range t.Units {
			add("unit-"+string(u.ID), config.ClassInternal, short+" "+u.Name,
				fmt.Sprintf("Raum der Organisationseinheit %s (%s).", u.Name, t.Name), "",
				false, byUnit[t.ID][u.ID], all)
		}
		for _, cr := range t.Rooms {
			candidates := ppl
			if len(cr.Units) > 0 {
				candidates = nil
				for _, u := range cr.Units {
					candidates = append(candidates, byUnit[t.ID][u]...)
				}
			}
			add(string(cr.ID), cr.Class, cr.Name, cr.Topic, cr.HistoryVisibility, false, candidates, audience(cr.Audience))
		}
	}

	for i := range cfg.Rooms {
		cr := &cfg.Rooms[i]
		r := &Room{
			Key: CrossRoomKey(cr.ID), Tenants: append([]config.TenantID(nil), cr.Tenants...), Homeserver: cr.Host,
			Class: cr.Class, Federate: true,
		}
		r.State.Name, r.State.Topic, r.State.HistoryVisibility = cr.Name, cr.Topic, cr.HistoryVisibility
		var ppl []Person
		for _, tid := range cr.Tenants {
			ppl = append(ppl, byTenant[tid]...)
		}
		b.add(r, ppl, audience(cr.Audience), nil)
		for _, tid := range cr.Tenants {
			if sp, ok := d.Rooms[TenantRoomKey(tid, roomSpace)]; ok {
				sp.Children = append(sp.Children, r.Key)
			}
		}
	}
	b.managementRooms(cfg, people)
	b.guests(guests)
	b.handovers(env.Handovers)
	for _, r := range d.Rooms {
		sort.Slice(r.Children, func(i, j int) bool { return r.Children[i] < r.Children[j] })
	}
	return d, nil
}

// guests adds external people to the external rooms they are invited to;
// other rooms, and rooms that are not external, they never get into.
func (b *builder) guests(guests []Person) {
	for _, p := range guests {
		uid := b.userOf[p.ID]
		for _, key := range p.Rooms {
			r, ok := b.d.Rooms[key]
			if !ok || r.Class != config.ClassExternal {
				b.d.Warnings = append(b.d.Warnings, fmt.Sprintf("guest %s: %s is no external room; not joined", uid, key))
				continue
			}
			if !slices.Contains(r.Members, uid) {
				r.Members = append(r.Members, uid)
				sort.Slice(r.Members, func(i, j int) bool { return r.Members[i] < r.Members[j] })
			}
		}
	}
}

// handovers gives successors the power leavers handed over to them, in the
// rooms where the successor is (or becomes) a member.
func (b *builder) handovers(hs []Handover) {
	for _, h := range hs {
		r, ok := b.d.Rooms[h.Room]
		uid, known := b.userOf[h.Successor]
		if !ok || !known || r.State.PowerLevels == nil {
			continue
		}
		if a := b.d.Accounts[uid]; a == nil || a.Locked {
			continue
		}
		if !slices.Contains(r.Members, uid) {
			r.Members = append(r.Members, uid)
			sort.Slice(r.Members, func(i, j int) bool { return r.Members[i] < r.Members[j] })
		}
		if r.State.PowerLevels.Users[uid] < h.Level {
			r.State.PowerLevels.Users[uid] = h.Level
		}
	}
}

// LandAdminRoom is the key of the Land-wide admin room.
var LandAdminRoom = CrossRoomKey(config.RoomID(config.RoomVerwaltung))

// TenantAdminRoom returns the key of tenant t's management room.
func TenantAdminRoom(t config.TenantID) RoomKey {
	return TenantRoomKey(t, string(config.RoomVerwaltung))
}

// BotUserIDs returns the admin bot's account on every homeserver that
// hosts a management room: the Land-wide admin room's host and the
// homeservers of the tenants.
func BotUserIDs(cfg *config.Config, serverNames map[config.HomeserverName]string) map[config.HomeserverName]id.UserID {
	out := map[config.HomeserverName]id.UserID{}
	add := func(hs config.HomeserverName) {
		if sn := serverNames[hs]; sn != "" {
			out[hs] = id.NewUserID(cfg.Admin.BotLocalpart, sn)
		}
	}
	add(cfg.Admin.Homeserver)
	for _, t := range cfg.Tenants {
		add(t.Homeserver)
	}
	return out
}

// ArchivistUserIDs returns the archive bot's account on every homeserver
// of cfg, or nil if the configuration's records section covers no room.
func ArchivistUserIDs(cfg *config.Config, serverNames map[config.HomeserverName]string) map[config.HomeserverName]id.UserID {
	if !cfg.Records.Enabled() {
		return nil
	}
	out := map[config.HomeserverName]id.UserID{}
	for _, hs := range cfg.Homeservers {
		if sn := serverNames[hs.Name]; sn != "" {
			out[hs.Name] = id.NewUserID(cfg.Records.BotLocalpart, sn)
		}
	}
	return out
}

// managementRooms adds the admin bot's rooms: the Land-wide admin room for
// the Land admins and auditors, and one room per tenant for its admins,
// each with the bot of its homeserver. Without bots there are none.
func (b *builder) managementRooms(cfg *config.Config, people []Person) {
	d := b.d
	if len(d.Bots) == 0 {
		return
	}
	byID := map[PersonID]Person{}
	for _, p := range people {
		byID[p.ID] = p
	}
	withBot := func(r *Room) {
		bot := d.Bots[r.Homeserver]
		r.Members = append(r.Members, bot)
		sort.Slice(r.Members, func(i, j int) bool { return r.Members[i] < r.Members[j] })
	}
	for _, t := range cfg.Tenants {
		r := &Room{
			Key: TenantAdminRoom(t.ID), Tenant: t.ID, Tenants: []config.TenantID{t.ID}, Homeserver: t.Homeserver,
			Class: config.ClassInternal, Federate: len(cfg.TenantsOn(t.Homeserver)) > 1,
		}
		r.State.Name = t.ShortName + " Verwaltung"
		r.State.Topic = fmt.Sprintf("Verwaltung von %s im Landesmessenger: Befehle an den Bot, z. B. !hilfe.", t.Name)
		r.State.HistoryVisibility = "joined"
		var admins []Person
		for _, p := range people {
			if p.Tenant == t.ID && p.Role == RoleAdmin && !p.Disabled && !p.External && !(p.Pending && b.env.Welcome) {
				admins = append(admins, p)
			}
		}
		b.add(r, admins, all, nil)
		withBot(r)
	}

	host := cfg.Admin.Homeserver
	r := &Room{Key: LandAdminRoom, Homeserver: host, Class: config.ClassCrossAgency, Federate: true}
	r.State.Name = "Landesmessenger Verwaltung (Land)"
	r.State.Topic = "Verwaltung des Landesmessengers für alle Mandanten: Befehle an den Bot, z. B. !hilfe."
	r.State.HistoryVisibility = "joined"
	var members []Person
	tenants := map[config.TenantID]bool{}
	auditor := map[PersonID]bool{}
	for _, list := range [][]string{cfg.Admin.LandAdmins, cfg.Admin.Auditors} {
		for _, pid := range list {
			p, ok := byID[PersonID(pid)]
			if ok && (p.Disabled || p.External || p.Pending && b.env.Welcome) {
				continue
			}
			if !ok {
				d.Warnings = append(d.Warnings, fmt.Sprintf("admin: %s is not in the directory; left out of the Land admin room", pid))
				continue
			}
			if cfg.Admin.IsAuditor(pid) && !cfg.Admin.IsLandAdmin(pid) {
				auditor[p.ID] = true
			}
			members = append(members, p)
			tenants[p.Tenant] = true
		}
	}
	for t := range tenants {
		r.Tenants = append(r.Tenants, t)
	}
	sort.Slice(r.Tenants, func(i, j int) bool { return r.Tenants[i] < r.Tenants[j] })
	// Land admins administer the room (moderators if on another homeserver,
	// see add); auditors only read and ask.
	landAdmin := func(p Person) Person {
		if auditor[p.ID] {
			p.Role = RoleMember
		} else {
			p.Role = RoleAdmin
		}
		return p
	}
	for i := range members {
		members[i] = landAdmin(members[i])
	}
	b.add(r, members, all, nil)
	withBot(r)
}

func all(Person) bool { return true }

// audience returns who of a room's candidates belongs in a configured room.
func audience(a config.Audience) func(Person) bool {
	if a == config.AudienceLeaders {
		return func(p Person) bool { return p.Role.leader() }
	}
	return all
}

// builder carries the lookups Build needs while it adds rooms.
type builder struct {
	d          *Desired
	env        Environment
	retention  *config.Retention
	records    *config.Records
	userOf     map[PersonID]id.UserID
	tenantHost map[config.TenantID]config.HomeserverName
}

// add completes r with its members (those of candidates who pass who) and
// the policy every managed room gets, and stores it.
func (b *builder) add(r *Room, candidates []Person, who func(Person) bool, tweak func(*PowerLevels)) {
	d := b.d
	r.Alias = AliasOf(r.Key)
	r.Version = b.env.RoomVersion
	r.State.Encryption = "m.megolm.v1.aes-sha2"
	r.State.JoinRule = "invite"
	r.State.GuestAccess = "forbidden"
	if r.State.HistoryVisibility == "" {
		r.State.HistoryVisibility = "shared"
	}
	r.State.Retention = retentionContent(retention.Resolve(b.retention, string(r.Key), r.Tenant, r.Class))
	pl := basePowerLevels(r.Space)
	if svc := d.Service[r.Homeserver]; !creatorHasPower(r.Version) {
		pl.Users[svc] = PowerService
	}
	admitted, left := b.admitted(r)
	leftOut := map[string]bool{}
	r.Excluded = left
	for _, s := range left {
		leftOut[s] = true
		d.Warnings = append(d.Warnings, fmt.Sprintf("%s: the federation list does not allow %s to share this room with %s; its people are left out",
			r.Key, s, strings.Join(admitted, ", ")))
	}
	if r.Class == config.ClassExternal && b.env.Federation != nil && !b.env.Federation.External(federation.ServerName(d.ServerNames[r.Homeserver])) {
		d.Warnings = append(d.Warnings, fmt.Sprintf("%s: external room, but the federation list does not let %s federate outside the list; it admits listed partners only",
			r.Key, d.ServerNames[r.Homeserver]))
	}
	r.Members = make([]id.UserID, 0, len(candidates))
	for _, p := range candidates {
		if !who(p) {
			continue
		}
		uid := b.userOf[p.ID]
		if leftOut[uid.Homeserver()] {
			continue
		}
		r.Members = append(r.Members, uid)
		if p.Role.leader() {
			level := powerOf(p.Role)
			if r.Tenant == "" && b.tenantHost[p.Tenant] != r.Homeserver {
				// A cross-tenant room is administered on its host: leaders
				// of other homeservers moderate it, so that the service
				// account can still remove them when they leave.
				level = min(level, PowerModerator)
			}
			pl.Users[uid] = level
		}
	}
	if a := d.Archivists[r.Homeserver]; a != "" && !r.Space && b.records.Covers(string(r.Key), r.Class) {
		r.Members = append(r.Members, a)
	}
	sort.Slice(r.Members, func(i, j int) bool { return r.Members[i] < r.Members[j] })
	if tweak != nil {
		tweak(pl)
	}
	r.State.PowerLevels = pl
	r.State.ServerACL = b.acl(r, admitted)
	d.Rooms[r.Key] = r
}

// retentionContent is the m.room.retention content of policy p, nil for no
// policy.
func retentionContent(p retention.Policy) *Retention {
	if p.IsZero() {
		return nil
	}
	return &Retention{MaxLifetime: p.Max.Milliseconds(), MinLifetime: p.Min.Milliseconds()}
}

// creatorHasPower reports whether room version v gives the room's creator
// unlimited power (room version 12 and later): the creator must then not be
// listed in the power levels.
func creatorHasPower(v string) bool {
	switch v {
	case "", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11":
		return false
	}
	return true
}

// basePowerLevels is the power levels content of every managed room: staff
// may talk, moderators may moderate, only admins may change the room's
// policy.
func basePowerLevels(space bool) *PowerLevels {
	events := map[string]int{
		"m.room.name":               PowerModerator,
		"m.room.topic":              PowerModerator,
		"m.room.avatar":             PowerModerator,
		"m.room.pinned_events":      PowerModerator,
		"m.room.canonical_alias":    PowerAdmin,
		"m.room.power_levels":       PowerAdmin,
		"m.room.history_visibility": PowerAdmin,
		"m.room.encryption":         PowerAdmin,
		"m.room.server_acl":         PowerAdmin,
		"m.room.join_rules":         PowerAdmin,
		"m.room.guest_access":       PowerAdmin,
		"m.room.tombstone":          PowerAdmin,
		RetentionEventType:          PowerAdmin,
		MarkerEventType:             PowerAdmin,
	}
	if space {
		events["m.space.child"] = PowerAdmin
	}
	return &PowerLevels{
		Users:         map[id.UserID]int{},
		Events:        events,
		EventsDefault: PowerMember,
		StateDefault:  PowerModerator,
		Invite:        PowerModerator,
		Kick:          PowerModerator,
		Ban:           PowerModerator,
		Redact:        PowerModerator,
	}
}

// admitted returns the servers room r admits besides anyone an external
// room lets in: its host and the homeservers of its tenants, narrowed by
// the federation list. The host always stays; every other server joins the
// set only if the list allows it with each server already in it (events
// of a room reach every server in it), taken in sorted order. The servers
// left out are returned too.
func (b *builder) admitted(r *Room) (in []string, out []string) {
	d := b.d
	host := d.ServerNames[r.Homeserver]
	seen := map[string]bool{host: true}
	var others []string
	for _, t := range r.Tenants {
		if s := d.ServerNames[b.tenantHost[t]]; !seen[s] {
			seen[s] = true
			others = append(others, s)
		}
	}
	sort.Strings(others)
	in = []string{host}
	list := b.env.Federation
	for _, s := range others {
		ok := true
		for _, a := range in {
			if list != nil && !list.Allowed(federation.ServerName(a), federation.ServerName(s)) {
				ok = false
			}
		}
		if ok {
			in = append(in, s)
		} else {
			out = append(out, s)
		}
	}
	return in, out
}

// acl is the server ACL of r: an allow-list of the servers it admits
// (never locking the host out). External rooms allow every server, except
// that under a federation list they deny the Land's servers the host may
// not federate with, and admit outside servers only if the list lets the
// host federate outside it. IP-literal server names (the local stack)
// need allow_ip_literals, which Dendrite treats as false when missing.
func (b *builder) acl(r *Room, admitted []string) *ServerACL {
	d := b.d
	list := b.env.Federation
	host := federation.ServerName(d.ServerNames[r.Homeserver])
	if r.Class == config.ClassExternal && (list == nil || list.External(host)) {
		acl := &ServerACL{Allow: []string{"*"}, Deny: []string{}, AllowIPLiterals: d.anyIPLiteral()}
		if list != nil {
			for _, s := range list.Servers() {
				if !list.Allowed(host, s) {
					acl.Deny = append(acl.Deny, s.Host())
				}
			}
		}
		return acl
	}
	servers := map[string]bool{}
	for _, s := range admitted {
		servers[hostOnly(s)] = true
	}
	acl := &ServerACL{Deny: []string{}}
	for s := range servers {
		acl.Allow = append(acl.Allow, s)
		if net.ParseIP(strings.Trim(s, "[]")) != nil {
			acl.AllowIPLiterals = true
		}
	}
	sort.Strings(acl.Allow)
	return acl
}

func (d *Desired) anyIPLiteral() bool {
	for _, s := range d.ServerNames {
		if net.ParseIP(strings.Trim(hostOnly(s), "[]")) != nil {
			return true
		}
	}
	return false
}

// hostOnly strips a port from a server name; ACLs match hosts only.
func hostOnly(serverName string) string {
	if h, _, err := net.SplitHostPort(serverName); err == nil {
		return h
	}
	return serverName
}
