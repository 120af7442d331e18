package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/provisioning"
	"github.com/landesmessenger/landesmessenger/store"
)

// readConcurrency bounds the state reads in flight per homeserver.
const readConcurrency = 8

// Read observes the current state: managed accounts from the database, and
// every room on the homeservers that carries our marker and the service
// account is joined to, with its state and members, and whether its alias
// exists. Of several rooms carrying one key (left by interrupted runs) it
// manages the one in the database, else the one the alias names, and lists
// the others on the same homeserver as duplicates. Warnings name what
// cannot be managed (a room in the database the service account left, an
// alias naming a foreign room).
func Read(ctx context.Context, hss map[config.HomeserverName]*Homeserver, db *store.Store) (*provisioning.Current, []string, error) {
	cur := &provisioning.Current{Accounts: map[id.UserID]*provisioning.CurrentAccount{}, Rooms: map[provisioning.RoomKey]*provisioning.CurrentRoom{}}
	accounts, err := db.Accounts(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, a := range accounts {
		cur.Accounts[id.UserID(a.UserID)] = &provisioning.CurrentAccount{
			UserID: id.UserID(a.UserID), Tenant: config.TenantID(a.Tenant), Homeserver: config.HomeserverName(a.Homeserver),
			Status: provisioning.AccountStatus(a.Status), DisplayName: a.DisplayName,
		}
	}
	saved, err := db.Rooms(ctx)
	if err != nil {
		return nil, nil, err
	}
	known := map[provisioning.RoomKey]store.ManagedRoom{}
	for _, r := range saved {
		known[provisioning.RoomKey(r.Key)] = r
	}

	var (
		mu       sync.Mutex
		warnings []string
		errs     []error
		wg       sync.WaitGroup
	)
	found := map[provisioning.RoomKey][]*provisioning.CurrentRoom{}
	for name, hs := range hss {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rooms, err := readHomeserver(ctx, name, hs)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("homeserver %s: %w", name, err))
				return
			}
			for _, r := range rooms {
				found[r.Key] = append(found[r.Key], r)
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		// An unreachable homeserver changes nothing: no plan from half a picture.
		return nil, nil, fmt.Errorf("read current state: %w", errs[0])
	}
	for key, rooms := range found {
		sort.Slice(rooms, func(i, j int) bool { return rooms[i].ID < rooms[j].ID })
		k, isKnown := known[key]
		// A creation that a crash interrupted can leave a room without its
		// alias, or two rooms (the homeserver finished the first creation
		// after the next run had started another).
		target, err := aliasTarget(ctx, hss[rooms[0].Homeserver], key)
		if err != nil {
			return nil, nil, err
		}
		r := chooseRoom(rooms, k.RoomID, target)
		var dups []*provisioning.CurrentRoom
		for _, c := range rooms {
			if c != r && c.Homeserver == r.Homeserver {
				dups = append(dups, c)
			}
		}
		if len(rooms) > 1 {
			warnings = append(warnings, fmt.Sprintf("%d rooms carry the key %s; managing %s", len(rooms), key, r.ID))
		}
		if len(dups) > 0 {
			if cur.Duplicates == nil {
				cur.Duplicates = map[provisioning.RoomKey][]*provisioning.CurrentRoom{}
			}
			cur.Duplicates[key] = dups
		}
		switch {
		case target == "" || slices.ContainsFunc(dups, func(c *provisioning.CurrentRoom) bool { return c.ID == target }):
			r.AliasMissing = true
		case target != r.ID:
			warnings = append(warnings, fmt.Sprintf("alias %s names %s, not the managed room %s of key %s",
				provisioning.AliasOf(key), target, r.ID, key))
		}
		if isKnown && k.RoomID == string(r.ID) && k.Applied != "" {
			var applied provisioning.RoomState
			if json.Unmarshal([]byte(k.Applied), &applied) == nil {
				r.Applied = &applied
			}
		}
		cur.Rooms[key] = r
	}
	for key, k := range known {
		if _, ok := cur.Rooms[key]; !ok {
			warnings = append(warnings, fmt.Sprintf("room %s (%s) is in the database but the service account of %s is not in it", key, k.RoomID, k.Homeserver))
		}
	}
	sort.Strings(warnings)
	return cur, warnings, nil
}

// aliasTarget returns the room the alias of key names on hs, or "" if the
// alias does not exist.
func aliasTarget(ctx context.Context, hs *Homeserver, key provisioning.RoomKey) (id.RoomID, error) {
	if hs == nil {
		return "", nil
	}
	alias := id.NewRoomAlias(provisioning.AliasOf(key), hs.ServerName)
	var res *mautrix.RespAliasResolve
	err := call(ctx, 5, func() error {
		var err error
		res, err = hs.Client.ResolveAlias(ctx, alias)
		return err
	})
	if errors.Is(err, mautrix.MNotFound) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("resolve %s: %w", alias, err)
	}
	return res.RoomID, nil
}

// chooseRoom picks the room to manage among rooms (sorted by ID) carrying
// one key: the one in the database, else the one the alias names, else the
// one with the most members, else the first.
func chooseRoom(rooms []*provisioning.CurrentRoom, recorded string, alias id.RoomID) *provisioning.CurrentRoom {
	for _, c := range rooms {
		if string(c.ID) == recorded {
			return c
		}
	}
	for _, c := range rooms {
		if c.ID == alias {
			return c
		}
	}
	best := rooms[0]
	for _, c := range rooms[1:] {
		if len(c.Members) > len(best.Members) {
			best = c
		}
	}
	return best
}

// readHomeserver reads every managed room the service account of hs is in.
func readHomeserver(ctx context.Context, name config.HomeserverName, hs *Homeserver) ([]*provisioning.CurrentRoom, error) {
	var joined []id.RoomID
	err := call(ctx, 5, func() error {
		resp, err := hs.Client.JoinedRooms(ctx)
		if err == nil {
			joined = resp.JoinedRooms
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list joined rooms: %w", err)
	}
	var (
		mu    sync.Mutex
		rooms []*provisioning.CurrentRoom
		first error
		wg    sync.WaitGroup
		sem   = make(chan struct{}, readConcurrency)
	)
	for _, rid := range joined {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			events, err := roomState(ctx, hs.Client, rid)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = err
				}
				return
			}
			if r := parseRoom(name, rid, events); r != nil {
				rooms = append(rooms, r)
			}
		}()
	}
	wg.Wait()
	return rooms, first
}

// parseRoom turns a room's state into a CurrentRoom, or nil if the room does
// not carry our marker.
func parseRoom(hs config.HomeserverName, rid id.RoomID, events []stateEvent) *provisioning.CurrentRoom {
	var marker *provisioning.Marker
	for _, e := range events {
		if e.Type == provisioning.MarkerEventType && e.StateKey != nil && *e.StateKey == "" {
			var m provisioning.Marker
			if json.Unmarshal(e.Content, &m) == nil && m.Key != "" {
				marker = &m
			}
		}
	}
	if marker == nil {
		return nil
	}
	r := &provisioning.CurrentRoom{
		Key: marker.Key, ID: rid, Tenant: marker.Tenant, Homeserver: hs, Closed: marker.Closed,
		Version: "1", Federate: true, Children: map[id.RoomID]bool{}, Members: map[id.UserID]string{},
	}
	for _, e := range events {
		if e.StateKey == nil {
			continue
		}
		sk := *e.StateKey
		switch e.Type {
		case "m.room.create":
			var c struct {
				Creator     id.UserID `json:"creator"`
				RoomVersion string    `json:"room_version"`
				Federate    *bool     `json:"m.federate"`
			}
			_ = json.Unmarshal(e.Content, &c)
			if c.RoomVersion != "" {
				r.Version = c.RoomVersion
			}
			r.Creator = e.Sender
			if c.Creator != "" {
				r.Creator = c.Creator
			}
			if c.Federate != nil {
				r.Federate = *c.Federate
			}
		case "m.room.power_levels":
			pl := parsePowerLevels(e.Content)
			r.State.PowerLevels = &pl
		case "m.room.server_acl":
			var c provisioning.ServerACL
			if json.Unmarshal(e.Content, &c) == nil && (c.Allow != nil || c.Deny != nil) {
				if c.Deny == nil {
					c.Deny = []string{}
				}
				r.State.ServerACL = &c
			}
		case provisioning.RetentionEventType:
			r.State.Retention = parseRetention(e.Content)
		case "m.space.child":
			var c struct {
				Via []string `json:"via"`
			}
			if json.Unmarshal(e.Content, &c) == nil && len(c.Via) > 0 {
				r.Children[id.RoomID(sk)] = true
			}
		case "m.room.member":
			var c struct {
				Membership string `json:"membership"`
			}
			if json.Unmarshal(e.Content, &c) == nil && (c.Membership == "join" || c.Membership == "invite") {
				r.Members[id.UserID(sk)] = c.Membership
			}
		default:
			if f, ok := stringFields[e.Type]; ok {
				var c map[string]any
				_ = json.Unmarshal(e.Content, &c)
				v, _ := c[f.key].(string)
				f.set(&r.State, v)
			}
		}
	}
	return r
}

// stringFields are the managed state events whose content is one string
// field: its JSON key and its place in RoomState.
var stringFields = map[string]struct {
	key string
	set func(*provisioning.RoomState, string)
}{
	"m.room.name":               {"name", func(s *provisioning.RoomState, v string) { s.Name = v }},
	"m.room.topic":              {"topic", func(s *provisioning.RoomState, v string) { s.Topic = v }},
	"m.room.encryption":         {"algorithm", func(s *provisioning.RoomState, v string) { s.Encryption = v }},
	"m.room.join_rules":         {"join_rule", func(s *provisioning.RoomState, v string) { s.JoinRule = v }},
	"m.room.history_visibility": {"history_visibility", func(s *provisioning.RoomState, v string) { s.HistoryVisibility = v }},
	"m.room.guest_access":       {"guest_access", func(s *provisioning.RoomState, v string) { s.GuestAccess = v }},
}

// parseRetention reads m.room.retention: the lifetimes that are positive
// integers (in milliseconds), nil if neither is, which is no policy.
func parseRetention(raw json.RawMessage) *provisioning.Retention {
	var c map[string]json.RawMessage
	_ = json.Unmarshal(raw, &c)
	lifetime := func(key string) int64 {
		var v int64
		if json.Unmarshal(c[key], &v) != nil || v < 0 {
			return 0
		}
		return v
	}
	r := provisioning.Retention{MaxLifetime: lifetime("max_lifetime"), MinLifetime: lifetime("min_lifetime")}
	if r == (provisioning.Retention{}) {
		return nil
	}
	return &r
}

// parsePowerLevels reads m.room.power_levels with the spec's defaults for
// missing fields, so that comparisons are between effective values.
func parsePowerLevels(raw json.RawMessage) provisioning.PowerLevels {
	var c struct {
		Users         map[id.UserID]int `json:"users"`
		UsersDefault  *int              `json:"users_default"`
		Events        map[string]int    `json:"events"`
		EventsDefault *int              `json:"events_default"`
		StateDefault  *int              `json:"state_default"`
		Invite        *int              `json:"invite"`
		Kick          *int              `json:"kick"`
		Ban           *int              `json:"ban"`
		Redact        *int              `json:"redact"`
	}
	_ = json.Unmarshal(raw, &c)
	or := func(p *int, def int) int {
		if p == nil {
			return def
		}
		return *p
	}
	pl := provisioning.PowerLevels{
		Users: c.Users, Events: c.Events,
		UsersDefault: or(c.UsersDefault, 0), EventsDefault: or(c.EventsDefault, 0), StateDefault: or(c.StateDefault, 50),
		Invite: or(c.Invite, 0), Kick: or(c.Kick, 50), Ban: or(c.Ban, 50), Redact: or(c.Redact, 50),
	}
	if pl.Users == nil {
		pl.Users = map[id.UserID]int{}
	}
	if pl.Events == nil {
		pl.Events = map[string]int{}
	}
	return pl
}
