package provisioning

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/config"
)

// Options tune the planner.
type Options struct {
	// MaxRemovalShare is the share of a tenant's people or rooms a plan may
	// remove; more is refused unless AllowMassRemoval (a bad directory read
	// must not empty a ministry).
	MaxRemovalShare  float64
	AllowMassRemoval bool
	// DeactivateRemoved locks out people gone from the directory.
	DeactivateRemoved bool
	// Erase asks the homeserver to erase the messages of every account it
	// deactivates (offboarding.erase; Synapse only).
	Erase bool
	// ExternalPrefix starts the localparts of guest accounts
	// (externals.localpart_prefix): guests leave on expiry, which is no
	// sign of a broken directory, so the mass-removal guard does not count
	// them.
	ExternalPrefix string
}

// Plan is the outcome of the planner: the actions that make the current
// state the desired one, in the order they run, and what cannot be fixed.
type Plan struct {
	Actions  []Action
	Warnings []string
}

// ErrMassRemoval is matched by a MassRemovalError.
var ErrMassRemoval = errors.New("mass removal refused")

// MassRemovalError refuses a plan that would remove too much of a tenant.
type MassRemovalError struct {
	Tenant  config.TenantID
	What    string // "people" or "rooms"
	Removed int
	Total   int
	Limit   float64
}

func (e *MassRemovalError) Error() string {
	return fmt.Sprintf("refusing to remove %d of %d %s of tenant %s (%.0f%%, limit %.0f%%): check the directory, or pass --allow-mass-removal",
		e.Removed, e.Total, e.What, e.Tenant, 100*float64(e.Removed)/float64(e.Total), 100*e.Limit)
}

// Is makes errors.Is(err, ErrMassRemoval) work.
func (e *MassRemovalError) Is(target error) bool { return target == ErrMassRemoval }

// Contents of the managed state events.
type (
	NameContent struct {
		Name string `json:"name"`
	}
	TopicContent struct {
		Topic string `json:"topic"`
	}
	EncryptionContent struct {
		Algorithm string `json:"algorithm"`
	}
	JoinRulesContent struct {
		JoinRule string `json:"join_rule"`
	}
	HistoryVisibilityContent struct {
		HistoryVisibility string `json:"history_visibility"`
	}
	GuestAccessContent struct {
		GuestAccess string `json:"guest_access"`
	}
)

// Compute plans the actions that take cur to want. It does no I/O.
func Compute(cur *Current, want *Desired, opts Options) (*Plan, error) {
	p := &planner{cur: cur, want: want, opts: opts, plan: &Plan{}, service: map[id.UserID]bool{}, ours: map[string]bool{}}
	for _, u := range want.Service {
		p.service[u] = true
	}
	for _, u := range want.Bots {
		p.service[u] = true
	}
	for _, u := range want.Archivists {
		p.service[u] = true
	}
	for _, s := range want.ServerNames {
		p.ours[s] = true
	}
	p.plan.Warnings = append(p.plan.Warnings, want.Warnings...)
	p.accounts()
	p.rooms()
	if err := p.checkRemovals(); err != nil {
		return nil, err
	}
	sortActions(p.plan.Actions)
	sort.Strings(p.plan.Warnings)
	return p.plan, nil
}

type planner struct {
	cur     *Current
	want    *Desired
	opts    Options
	plan    *Plan
	service map[id.UserID]bool
	ours    map[string]bool // our server names
	// blocked are desired users who cannot take part (deactivated).
	blocked map[id.UserID]bool
}

func (p *planner) add(a Action) { p.plan.Actions = append(p.plan.Actions, a) }

func (p *planner) warn(format string, args ...any) {
	p.plan.Warnings = append(p.plan.Warnings, fmt.Sprintf(format, args...))
}

func (p *planner) accounts() {
	p.blocked = map[id.UserID]bool{}
	for uid, a := range p.want.Accounts {
		base := Base{Tenant: a.Tenant, Homeserver: a.Homeserver}
		c, ok := p.cur.Accounts[uid]
		switch {
		case !ok:
			p.add(CreateAccount{Base: base, User: uid, DisplayName: a.DisplayName})
			if a.Locked {
				p.add(LockAccount{Base: base, User: uid})
			}
			continue
		case c.Status == AccountDeactivated:
			p.blocked[uid] = true
			p.warn("%s is in the directory again but its account is deactivated; an admin must reactivate it", uid)
			continue
		case a.Locked && c.Status != AccountLocked:
			p.add(LockAccount{Base: base, User: uid})
		case !a.Locked && c.Status == AccountLocked:
			p.add(UnlockAccount{Base: base, User: uid})
		}
		if c.DisplayName != a.DisplayName {
			p.add(SetDisplayName{Base: base, User: uid, From: c.DisplayName, To: a.DisplayName})
		}
	}
	if !p.opts.DeactivateRemoved {
		return
	}
	for uid, c := range p.cur.Accounts {
		if _, ok := p.want.Accounts[uid]; !ok && (c.Status == AccountActive || c.Status == AccountLocked) {
			p.add(DeactivateAccount{Base: Base{Tenant: c.Tenant, Homeserver: c.Homeserver}, User: uid, Erase: p.opts.Erase})
		}
	}
}

func (p *planner) rooms() {
	for key, r := range p.want.Rooms {
		base := Base{Tenant: r.Tenant, Homeserver: r.Homeserver}
		c, ok := p.cur.Rooms[key]
		if !ok {
			p.add(CreateRoom{Base: base, Room: key, Alias: r.Alias, Space: r.Space, Federate: r.Federate, Version: r.Version, State: r.State})
			p.members(r, nil, p.wanted(r), nil, nil)
			p.children(r, nil)
			continue
		}
		if c.Homeserver != r.Homeserver {
			p.warn("room %s is hosted on %s but configured on %s; rooms cannot move between homeservers", key, c.Homeserver, r.Homeserver)
			continue
		}
		if c.AliasMissing {
			p.add(SetAlias{Base: base, Room: key, RoomID: c.ID, Alias: r.Alias})
		}
		if c.Federate != r.Federate {
			p.warn("room %s has m.federate=%t but should have %t; it is fixed at creation", key, c.Federate, r.Federate)
		}
		if c.Closed {
			p.add(SetState{Base: base, Room: key, RoomID: c.ID, EventType: MarkerEventType,
				From: Marker{Key: key, Tenant: c.Tenant, Closed: true}, To: Marker{Key: key, Tenant: r.Tenant}})
		}
		wanted := p.wanted(r)
		leaving := p.leavingThemselves(r, c, wanted)
		pl := p.state(r, c, leaving)
		p.members(r, c, wanted, leaving, pl)
		p.children(r, c)
	}
	for key, c := range p.cur.Rooms {
		if _, ok := p.want.Rooms[key]; ok || c.Closed {
			continue
		}
		var members []id.UserID
		for u := range c.Members {
			if !p.service[u] {
				members = append(members, u)
			}
		}
		sort.Slice(members, func(i, j int) bool { return members[i] < members[j] })
		p.add(CloseRoom{Base: Base{Tenant: c.Tenant, Homeserver: c.Homeserver}, Room: key, RoomID: c.ID, Members: members})
	}
	for key, dups := range p.cur.Duplicates {
		for _, c := range dups {
			var members []id.UserID
			for u := range c.Members {
				if !p.service[u] {
					members = append(members, u)
				}
			}
			sort.Slice(members, func(i, j int) bool { return members[i] < members[j] })
			p.add(RetireDuplicate{Base: Base{Tenant: c.Tenant, Homeserver: c.Homeserver}, Room: key, RoomID: c.ID, Members: members})
		}
	}
}

// state compares the managed state of an existing room and returns the
// power levels it sets (or keeps). leaving are the users who leave as
// themselves (see leavingThemselves): their power stays until they drop it.
func (p *planner) state(r *Room, c *CurrentRoom, leaving map[id.UserID]bool) *PowerLevels {
	want := r.State
	if creatorHasPower(c.Version) && want.PowerLevels != nil {
		// The creator's power is unlimited and must not be listed.
		pl := *want.PowerLevels
		pl.Users = make(map[id.UserID]int, len(want.PowerLevels.Users))
		for u, v := range want.PowerLevels.Users {
			if u != c.Creator {
				pl.Users[u] = v
			}
		}
		want.PowerLevels = &pl
	} else if !creatorHasPower(c.Version) && want.PowerLevels != nil {
		if _, ok := want.PowerLevels.Users[p.want.Service[r.Homeserver]]; !ok {
			pl := *want.PowerLevels
			pl.Users = make(map[id.UserID]int, len(want.PowerLevels.Users)+1)
			for u, v := range want.PowerLevels.Users {
				pl.Users[u] = v
			}
			pl.Users[p.want.Service[r.Homeserver]] = PowerService
			want.PowerLevels = &pl
		}
	}
	want.PowerLevels = p.keepPeers(r, c, want.PowerLevels, leaving)
	for _, f := range stateFields {
		from, to := f.get(c.State), f.get(want)
		if f.equal(from, to) {
			continue
		}
		a := SetState{Base: Base{Tenant: r.Tenant, Homeserver: r.Homeserver}, Room: r.Key, RoomID: c.ID, EventType: f.eventType, To: to}
		if f.present(c.State) {
			a.From = from
			// Drift: the room differs from what we applied last although
			// the configuration did not change, so someone changed it.
			a.Drift = c.Applied != nil && f.equal(f.get(*c.Applied), to)
		}
		p.add(a)
	}
	return want.PowerLevels
}

// stateField describes one managed state event for comparison.
type stateField struct {
	eventType string
	get       func(RoomState) any
	present   func(RoomState) bool
	equal     func(a, b any) bool
}

func eq(a, b any) bool { return a == b }

// stateFields are the managed state events in the order plans list them.
var stateFields = []stateField{
	{"m.room.name", func(s RoomState) any { return NameContent{s.Name} }, func(s RoomState) bool { return s.Name != "" }, eq},
	{"m.room.topic", func(s RoomState) any { return TopicContent{s.Topic} }, func(s RoomState) bool { return s.Topic != "" }, eq},
	{"m.room.encryption", func(s RoomState) any { return EncryptionContent{s.Encryption} }, func(s RoomState) bool { return s.Encryption != "" }, eq},
	{"m.room.join_rules", func(s RoomState) any { return JoinRulesContent{s.JoinRule} }, func(s RoomState) bool { return s.JoinRule != "" }, eq},
	{"m.room.history_visibility", func(s RoomState) any { return HistoryVisibilityContent{s.HistoryVisibility} },
		func(s RoomState) bool { return s.HistoryVisibility != "" }, eq},
	{"m.room.guest_access", func(s RoomState) any { return GuestAccessContent{s.GuestAccess} }, func(s RoomState) bool { return s.GuestAccess != "" }, eq},
	{"m.room.power_levels", func(s RoomState) any { return s.PowerLevels }, func(s RoomState) bool { return s.PowerLevels != nil },
		func(a, b any) bool { return equalPowerLevels(a.(*PowerLevels), b.(*PowerLevels)) }},
	{"m.room.server_acl", func(s RoomState) any { return s.ServerACL }, func(s RoomState) bool { return s.ServerACL != nil },
		func(a, b any) bool { return equalACL(a.(*ServerACL), b.(*ServerACL)) }},
	// No policy is the empty content: a state event cannot be removed, and
	// a policy set by hand is undone by emptying it.
	{RetentionEventType, func(s RoomState) any {
		if s.Retention == nil {
			return Retention{}
		}
		return *s.Retention
	}, func(s RoomState) bool { return s.Retention != nil }, eq},
}

// keepPeers returns want with the current level of every user the service
// account cannot change: in rooms before version 12, nobody may lower a user
// whose power is as high as their own, so a user raised to 100 by hand stays
// at 100 and is reported instead of being retried forever. Users leaving as
// themselves keep their level too, without a report: they drop it when they
// leave.
func (p *planner) keepPeers(r *Room, c *CurrentRoom, want *PowerLevels, leaving map[id.UserID]bool) *PowerLevels {
	if want == nil || c.State.PowerLevels == nil || creatorHasPower(c.Version) {
		return want
	}
	svc := p.want.Service[r.Homeserver]
	own := c.State.PowerLevels.Users[svc]
	var copied bool
	for u, have := range c.State.PowerLevels.Users {
		if u == svc || have < own {
			continue
		}
		if w, ok := want.Users[u]; ok && w == have {
			continue
		}
		if !copied {
			pl := *want
			pl.Users = make(map[id.UserID]int, len(want.Users)+1)
			for k, v := range want.Users {
				pl.Users[k] = v
			}
			want, copied = &pl, true
		}
		want.Users[u] = have
		if !leaving[u] {
			p.warn("%s has power %d in %s, as much as the service account, which therefore cannot lower it; an admin must do that by hand", u, have, r.Key)
		}
	}
	return want
}

// wanted returns the users who should be members of r and can be.
func (p *planner) wanted(r *Room) map[id.UserID]bool {
	want := make(map[id.UserID]bool, len(r.Members))
	for _, u := range r.Members {
		if !p.blocked[u] {
			want[u] = true
		}
	}
	return want
}

// members plans joins and removals of r's members; c is nil for a room
// still to be created. Of the users who must leave, those in leaving leave
// as themselves, setting target without all of leaving first.
func (p *planner) members(r *Room, c *CurrentRoom, want, leaving map[id.UserID]bool, target *PowerLevels) {
	for _, u := range r.Members {
		if !want[u] || c != nil && c.Members[u] == "join" {
			continue
		}
		hs := r.Homeserver // the bots live on the hosts of their rooms
		if a, ok := p.want.Accounts[u]; ok {
			hs = a.Homeserver
		}
		p.add(JoinRoom{Base: Base{Tenant: r.Tenant, Homeserver: hs}, Room: r.Key, User: u, Host: r.Homeserver})
	}
	if c == nil {
		return
	}
	for u := range c.Members {
		if want[u] || p.service[u] || !p.removable(r, u) {
			continue
		}
		reason := p.removalReason(r, u)
		if leaving[u] {
			p.add(LeaveRoom{Base: Base{Tenant: r.Tenant, Homeserver: p.cur.Accounts[u].Homeserver}, Room: r.Key, RoomID: c.ID, User: u,
				Power: c.State.PowerLevels.Users[u], Reason: reason, PowerLevels: withoutUsers(target, leaving)})
			continue
		}
		if p.unremovable(r, c, u) {
			continue
		}
		p.add(RemoveMember{Base: Base{Tenant: r.Tenant, Homeserver: r.Homeserver}, Room: r.Key, User: u, Reason: reason})
	}
}

// removalReason says why u must leave r, as the room's members read it.
func (p *planner) removalReason(r *Room, u id.UserID) string {
	if slices.Contains(r.Excluded, u.Homeserver()) {
		return "Server laut Föderationsliste nicht zugelassen"
	}
	if a, ok := p.want.Accounts[u]; ok && a.Locked {
		return "Konto gesperrt"
	} else if !ok {
		if _, managed := p.cur.Accounts[u]; !managed {
			return "nicht berechtigt für diesen Raum"
		}
	}
	return "nicht mehr Mitglied laut Verzeichnis"
}

// leavingThemselves returns the users who must leave c but whom the service
// account cannot remove (see unremovable), and who can leave as themselves:
// accounts we manage that are not deactivated.
func (p *planner) leavingThemselves(r *Room, c *CurrentRoom, want map[id.UserID]bool) map[id.UserID]bool {
	if c.State.PowerLevels == nil || creatorHasPower(c.Version) {
		return nil
	}
	own, ok := c.State.PowerLevels.Users[p.want.Service[r.Homeserver]]
	if !ok {
		return nil
	}
	var out map[id.UserID]bool
	for u := range c.Members {
		if want[u] || p.service[u] || !p.removable(r, u) || c.State.PowerLevels.Users[u] < own {
			continue
		}
		if a, ok := p.cur.Accounts[u]; !ok || a.Status == AccountDeactivated {
			continue
		}
		if out == nil {
			out = map[id.UserID]bool{}
		}
		out[u] = true
	}
	return out
}

// withoutUsers returns a copy of pl without the users of drop.
func withoutUsers(pl *PowerLevels, drop map[id.UserID]bool) *PowerLevels {
	if pl == nil {
		return nil
	}
	out := *pl
	out.Users = make(map[id.UserID]int, len(pl.Users))
	for u, v := range pl.Users {
		if !drop[u] {
			out.Users[u] = v
		}
	}
	return &out
}

// unremovable reports (and warns) whether u has as much power in c as the
// service account, which Matrix's rules before room version 12 forbid it to
// kick.
func (p *planner) unremovable(r *Room, c *CurrentRoom, u id.UserID) bool {
	if c.State.PowerLevels == nil || creatorHasPower(c.Version) {
		return false
	}
	own, ok := c.State.PowerLevels.Users[p.want.Service[r.Homeserver]]
	if !ok || c.State.PowerLevels.Users[u] < own {
		return false
	}
	p.warn("%s should leave %s but has power %d, as much as the service account, which therefore cannot remove them; an admin must do that by hand", u, r.Key, c.State.PowerLevels.Users[u])
	return true
}

// removable reports whether provisioning may remove u from r: anyone in
// internal and cross-agency rooms (their membership is fully managed), only
// users of our homeservers in external rooms (externals are invited there
// by hand).
func (p *planner) removable(r *Room, u id.UserID) bool {
	if r.Class != config.ClassExternal {
		return true
	}
	return p.ours[u.Homeserver()]
}

// children plans the m.space.child events of a space.
func (p *planner) children(r *Room, c *CurrentRoom) {
	if !r.Space {
		return
	}
	wantIDs := map[id.RoomID]bool{}
	for _, child := range r.Children {
		cr := p.want.Rooms[child]
		if cc, ok := p.cur.Rooms[child]; ok {
			wantIDs[cc.ID] = true
			if c != nil && c.Children[cc.ID] {
				continue
			}
		}
		p.add(SetSpaceChild{Base: Base{Tenant: r.Tenant, Homeserver: r.Homeserver}, Space: r.Key, Child: child,
			Via: hostOnlyKeepPort(p.want.ServerNames[cr.Homeserver])})
	}
	if c == nil {
		return
	}
	var stale []id.RoomID
	for rid := range c.Children {
		if !wantIDs[rid] {
			stale = append(stale, rid)
		}
	}
	sort.Slice(stale, func(i, j int) bool { return stale[i] < stale[j] })
	for _, rid := range stale {
		p.add(SetSpaceChild{Base: Base{Tenant: r.Tenant, Homeserver: r.Homeserver}, Space: r.Key, ChildID: rid, Remove: true})
	}
}

// hostOnlyKeepPort returns a server name as used in "via": the whole server
// name, port included.
func hostOnlyKeepPort(s string) string { return s }

// checkRemovals refuses plans that remove more than the allowed share of a
// tenant's people or rooms.
func (p *planner) checkRemovals() error {
	if p.opts.AllowMassRemoval || p.opts.MaxRemovalShare <= 0 {
		return nil
	}
	type count struct{ total, removed int }
	people := map[config.TenantID]*count{}
	rooms := map[config.TenantID]*count{}
	get := func(m map[config.TenantID]*count, t config.TenantID) *count {
		if m[t] == nil {
			m[t] = &count{}
		}
		return m[t]
	}
	for uid, c := range p.cur.Accounts {
		if c.Status != AccountActive {
			continue
		}
		if local, _, err := uid.Parse(); err == nil && p.opts.ExternalPrefix != "" && strings.HasPrefix(local, p.opts.ExternalPrefix) {
			continue
		}
		n := get(people, c.Tenant)
		n.total++
		if a, ok := p.want.Accounts[uid]; !ok || a.Tenant != c.Tenant {
			n.removed++
		}
	}
	for key, c := range p.cur.Rooms {
		if c.Closed {
			continue
		}
		n := get(rooms, c.Tenant)
		n.total++
		if _, ok := p.want.Rooms[key]; !ok {
			n.removed++
		}
	}
	check := func(what string, m map[config.TenantID]*count) error {
		tenants := make([]string, 0, len(m))
		for t := range m {
			tenants = append(tenants, string(t))
		}
		sort.Strings(tenants)
		for _, t := range tenants {
			n := m[config.TenantID(t)]
			if n.removed > 0 && float64(n.removed) > p.opts.MaxRemovalShare*float64(n.total) {
				return &MassRemovalError{Tenant: config.TenantID(t), What: what, Removed: n.removed, Total: n.total, Limit: p.opts.MaxRemovalShare}
			}
		}
		return nil
	}
	if err := check("people", people); err != nil {
		return err
	}
	return check("rooms", rooms)
}

func equalPowerLevels(a, b *PowerLevels) bool {
	if a == nil || b == nil {
		return a == b
	}
	return reflect.DeepEqual(normalizePL(a), normalizePL(b))
}

func normalizePL(pl *PowerLevels) PowerLevels {
	n := *pl
	if n.Users == nil {
		n.Users = map[id.UserID]int{}
	}
	if n.Events == nil {
		n.Events = map[string]int{}
	}
	return n
}

func equalACL(a, b *ServerACL) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.AllowIPLiterals == b.AllowIPLiterals && sameSet(a.Allow, b.Allow) && sameSet(a.Deny, b.Deny)
}

func sameSet(a, b []string) bool {
	x := map[string]bool{}
	for _, s := range a {
		x[s] = true
	}
	y := map[string]bool{}
	for _, s := range b {
		y[s] = true
	}
	return reflect.DeepEqual(x, y)
}

// sortActions orders actions by phase, tenant, homeserver, kind and their
// subject, so plans are stable and read well.
func sortActions(actions []Action) {
	keys := make([]string, len(actions))
	for i, a := range actions {
		keys[i] = sortKey(a)
	}
	idx := make([]int, len(actions))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool { return keys[idx[i]] < keys[idx[j]] })
	sorted := make([]Action, len(actions))
	for i, k := range idx {
		sorted[i] = actions[k]
	}
	copy(actions, sorted)
}

func sortKey(a Action) string {
	t, hs := a.Scope()
	var subject string
	switch a := a.(type) {
	case CreateAccount:
		subject = string(a.User)
	case SetDisplayName:
		subject = string(a.User)
	case DeactivateAccount:
		subject = string(a.User)
	case LockAccount:
		subject = string(a.User)
	case UnlockAccount:
		subject = string(a.User)
	case CreateRoom:
		subject = string(a.Room)
	case SetAlias:
		subject = string(a.Room)
	case SetState:
		subject = string(a.Room) + " " + a.EventType
	case SetSpaceChild:
		subject = string(a.Space) + " " + string(a.Child) + string(a.ChildID)
	case JoinRoom:
		subject = string(a.Room) + " " + string(a.User)
	case RemoveMember:
		subject = string(a.Room) + " " + string(a.User)
	case LeaveRoom:
		subject = string(a.Room) + " " + string(a.User)
	case CloseRoom:
		subject = string(a.Room)
	case RetireDuplicate:
		subject = string(a.Room) + " " + string(a.RoomID)
	}
	return strings.Join([]string{fmt.Sprintf("%02d", a.Phase()), string(t), string(hs), a.Kind(), subject}, "\x00")
}
