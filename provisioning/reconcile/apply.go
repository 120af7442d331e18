package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/homeserver"
	"github.com/landesmessenger/landesmessenger/provisioning"
	"github.com/landesmessenger/landesmessenger/store"
)

// remoteJoiner is the capability of joining a local user to a room hosted
// on another homeserver, after that room's host invited them.
type remoteJoiner interface {
	JoinRemote(ctx context.Context, roomID id.RoomID, user id.UserID, via []string) error
}

// Applier carries out plans.
type Applier struct {
	Homeservers map[config.HomeserverName]*Homeserver
	Store       *store.Store
	Credentials *Credentials
	// Concurrency bounds the actions in flight per homeserver.
	Concurrency int
	// Attempts bounds the tries of one request (retries on 5xx and rate
	// limits).
	Attempts int
	Log      logrus.FieldLogger
	// Progress, if set, is called after every action.
	Progress func(done, total int, a provisioning.Action, err error)
}

// Result summarises an apply.
type Result struct {
	Done   int
	Failed int
	Errors []error
}

// Apply runs the plan's actions phase by phase, each phase with bounded
// concurrency per homeserver, and records what it did in the database. A
// failed action does not stop the others; the next reconcile retries it.
func (ap *Applier) Apply(ctx context.Context, plan *provisioning.Plan, cur *provisioning.Current, want *provisioning.Desired) (*Result, error) {
	run := &applyRun{ap: ap, want: want, ids: map[provisioning.RoomKey]id.RoomID{}, failedRooms: map[provisioning.RoomKey]bool{}, locks: map[string]*sync.Mutex{},
		cur: cur, witnesses: map[string]id.UserID{}, leavers: leaversOf(plan)}
	for key, r := range cur.Rooms {
		run.ids[key] = r.ID
	}
	phases := map[provisioning.Phase][]provisioning.Action{}
	var order []provisioning.Phase
	for _, a := range plan.Actions {
		if _, ok := phases[a.Phase()]; !ok {
			order = append(order, a.Phase())
		}
		phases[a.Phase()] = append(phases[a.Phase()], a)
	}
	sort.Slice(order, func(i, j int) bool { return order[i] < order[j] })
	res := &Result{}
	total := len(plan.Actions)
	var mu sync.Mutex
	work := func(a provisioning.Action) {
		err := run.do(ctx, a)
		run.note(a, err)
		mu.Lock()
		if err != nil {
			res.Failed++
			res.Errors = append(res.Errors, fmt.Errorf("%s: %w", provisioning.Describe(a), err))
			if key := roomOf(a); key != "" {
				run.failedRooms[key] = true
			}
		} else {
			res.Done++
		}
		done := res.Done + res.Failed
		mu.Unlock()
		if ap.Progress != nil {
			ap.Progress(done, total, a, err)
		}
	}
	for _, ph := range order {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		// Each homeserver works off its own queue with its own workers, so
		// that a busy homeserver does not hold up the actions of the others.
		queues := map[config.HomeserverName]chan provisioning.Action{}
		var wg sync.WaitGroup
		for _, a := range phases[ph] {
			_, hs := a.Scope()
			q := queues[hs]
			if q == nil {
				workers := 1
				if _, ok := ap.Homeservers[hs]; ok {
					workers = max(1, ap.Concurrency)
				}
				q = make(chan provisioning.Action, len(phases[ph]))
				queues[hs] = q
				for range workers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for a := range q {
							work(a)
						}
					}()
				}
			}
			q <- a
		}
		for _, q := range queues {
			close(q)
		}
		wg.Wait()
	}
	if err := run.recordRooms(ctx); err != nil {
		res.Errors = append(res.Errors, err)
	}
	if err := run.reportOffboardings(ctx); err != nil {
		res.Errors = append(res.Errors, err)
	}
	return res, nil
}

// roomOf returns the room an action is about, if any.
func roomOf(a provisioning.Action) provisioning.RoomKey {
	switch a := a.(type) {
	case provisioning.CreateRoom:
		return a.Room
	case provisioning.SetAlias:
		return a.Room
	case provisioning.SetState:
		return a.Room
	}
	return ""
}

type applyRun struct {
	ap          *Applier
	want        *provisioning.Desired
	mu          sync.Mutex
	ids         map[provisioning.RoomKey]id.RoomID
	failedRooms map[provisioning.RoomKey]bool
	// locks serialise work on one room (see remoteJoinLock and leave).
	locks map[string]*sync.Mutex
	cur   *provisioning.Current
	// witnesses are local users of a homeserver joined to a room hosted
	// elsewhere, by homeserver and room (see homeserver.InviteWaiter).
	witnesses map[string]id.UserID
	// leavers are what this apply did to the accounts it deactivates or
	// locks, for their offboarding reports.
	leavers map[id.UserID]*offboarding
}

// witness returns a user of hs joined to room, or "" if none is known.
func (r *applyRun) witness(room provisioning.RoomKey, hs *Homeserver) id.UserID {
	r.mu.Lock()
	defer r.mu.Unlock()
	if u, ok := r.witnesses[string(hs.Name)+" "+string(room)]; ok {
		return u
	}
	var found []id.UserID
	if c := r.cur.Rooms[room]; c != nil {
		for u, m := range c.Members {
			if m == "join" && u.Homeserver() == hs.ServerName && u != hs.Client.UserID {
				found = append(found, u)
			}
		}
	}
	if len(found) == 0 {
		return ""
	}
	sort.Slice(found, func(i, j int) bool { return found[i] < found[j] })
	return found[0]
}

// remoteJoinLock returns the lock of joins to room through homeserver hs.
// Joins of one homeserver's users to one room hosted elsewhere take turns:
// Dendrite v0.13.8 corrupts its copy of a room it joins over federation for
// several users at once ("missing state for event NID"), leaving them
// joined on the host but unable to read the room on their own server.
func (r *applyRun) remoteJoinLock(room provisioning.RoomKey, hs config.HomeserverName) *sync.Mutex {
	return r.lock("join " + string(hs) + " " + string(room))
}

// lock returns the lock named key.
func (r *applyRun) lock(key string) *sync.Mutex {
	r.mu.Lock()
	defer r.mu.Unlock()
	l, ok := r.locks[key]
	if !ok {
		l = &sync.Mutex{}
		r.locks[key] = l
	}
	return l
}

func (r *applyRun) roomID(key provisioning.RoomKey) (id.RoomID, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rid, ok := r.ids[key]; ok {
		return rid, nil
	}
	return "", fmt.Errorf("room %s does not exist (its creation failed?)", key)
}

func (r *applyRun) hs(name config.HomeserverName) (*Homeserver, error) {
	hs, ok := r.ap.Homeservers[name]
	if !ok {
		return nil, fmt.Errorf("homeserver %s is not connected", name)
	}
	return hs, nil
}

func (r *applyRun) attempts() int { return max(1, r.ap.Attempts) }

// do carries out one action.
func (r *applyRun) do(ctx context.Context, a provisioning.Action) error {
	_, hsName := a.Scope()
	hs, err := r.hs(hsName)
	if err != nil {
		return err
	}
	switch a := a.(type) {
	case provisioning.CreateAccount:
		return r.createAccount(ctx, hs, a)
	case provisioning.SetDisplayName:
		if err := call(ctx, r.attempts(), func() error { return hs.Admin.SetDisplayName(ctx, a.User, a.To) }); err != nil {
			return err
		}
		return r.saveAccount(ctx, a.Base, a.User, provisioning.AccountActive, a.To)
	case provisioning.DeactivateAccount:
		return r.deactivate(ctx, hs, a)
	case provisioning.LockAccount:
		if err := r.stillIn(a.User); err != nil {
			return err
		}
		pw, err := homeserver.RandomPassword()
		if err != nil {
			return err
		}
		if err := call(ctx, r.attempts(), func() error { return hs.Admin.ResetPassword(ctx, a.User, pw, true) }); err != nil {
			return err
		}
		return r.saveAccount(ctx, a.Base, a.User, provisioning.AccountLocked, r.displayName(a.User))
	case provisioning.UnlockAccount:
		pw, err := r.ap.Credentials.NewPassword(a.User)
		if err != nil {
			return err
		}
		if err := call(ctx, r.attempts(), func() error { return hs.Admin.ResetPassword(ctx, a.User, pw, false) }); err != nil {
			return err
		}
		return r.saveAccount(ctx, a.Base, a.User, provisioning.AccountActive, r.displayName(a.User))
	case provisioning.CreateRoom:
		return r.createRoom(ctx, hs, a)
	case provisioning.SetAlias:
		return r.setAlias(ctx, hs, a)
	case provisioning.SetState:
		return call(ctx, r.attempts(), func() error {
			_, err := hs.Client.MakeRequest(ctx, http.MethodPut,
				hs.Client.BuildClientURL("v3", "rooms", a.RoomID, "state", a.EventType, ""), a.To, nil)
			return err
		})
	case provisioning.SetSpaceChild:
		return r.spaceChild(ctx, hs, a)
	case provisioning.JoinRoom:
		return r.join(ctx, hs, a)
	case provisioning.RemoveMember:
		rid, err := r.roomID(a.Room)
		if err != nil {
			return err
		}
		return r.kick(ctx, hs, rid, a.User, a.Reason)
	case provisioning.LeaveRoom:
		return r.leave(ctx, hs, a)
	case provisioning.CloseRoom:
		return r.closeRoom(ctx, hs, a)
	case provisioning.RetireDuplicate:
		return r.retire(ctx, hs, a)
	}
	return fmt.Errorf("unknown action %s", a.Kind())
}

func (r *applyRun) createAccount(ctx context.Context, hs *Homeserver, a provisioning.CreateAccount) error {
	localpart, _, err := a.User.Parse()
	if err != nil {
		return err
	}
	// The password is on disk before the account exists: a crash in
	// between loses nothing.
	pw, err := r.ap.Credentials.PasswordFor(a.User)
	if err != nil {
		return err
	}
	var created bool
	err = call(ctx, r.attempts(), func() error {
		var err error
		_, created, err = hs.Admin.CreateAccount(ctx, localpart, pw, a.DisplayName)
		return err
	})
	if err != nil {
		return err
	}
	if !created {
		// It existed (an earlier run crashed after creating it, or the
		// database was lost): make its display name right.
		if err := call(ctx, r.attempts(), func() error { return hs.Admin.SetDisplayName(ctx, a.User, a.DisplayName) }); err != nil {
			return err
		}
	}
	return r.saveAccount(ctx, a.Base, a.User, provisioning.AccountActive, a.DisplayName)
}

// displayName is the display name user should have.
func (r *applyRun) displayName(user id.UserID) string {
	if a := r.want.Accounts[user]; a != nil {
		return a.DisplayName
	}
	if c := r.cur.Accounts[user]; c != nil {
		return c.DisplayName
	}
	return ""
}

func (r *applyRun) saveAccount(ctx context.Context, b provisioning.Base, user id.UserID, status provisioning.AccountStatus, name string) error {
	acc := r.want.Accounts[user]
	person := ""
	if acc != nil {
		person = string(acc.Person)
	}
	return r.ap.Store.SaveAccount(ctx, store.ManagedAccount{
		UserID: string(user), Person: person, Tenant: string(b.Tenant), Homeserver: string(b.Homeserver),
		Status: string(status), DisplayName: name,
	})
}

// createRoomRequest is the createRoom body with our own typed contents.
type createRoomRequest struct {
	Preset          string                    `json:"preset"`
	Visibility      string                    `json:"visibility"`
	RoomAliasName   string                    `json:"room_alias_name"`
	Name            string                    `json:"name,omitempty"`
	Topic           string                    `json:"topic,omitempty"`
	RoomVersion     string                    `json:"room_version,omitempty"`
	CreationContent map[string]any            `json:"creation_content"`
	InitialState    []initialState            `json:"initial_state"`
	PowerLevels     *provisioning.PowerLevels `json:"power_level_content_override,omitempty"`
}

type initialState struct {
	Type     string `json:"type"`
	StateKey string `json:"state_key"`
	Content  any    `json:"content"`
}

func (r *applyRun) createRoom(ctx context.Context, hs *Homeserver, a provisioning.CreateRoom) error {
	creation := map[string]any{"m.federate": a.Federate}
	if a.Space {
		creation["type"] = "m.space"
	}
	st := a.State
	req := createRoomRequest{
		Preset: "private_chat", Visibility: "private", RoomAliasName: a.Alias,
		Name: st.Name, Topic: st.Topic, RoomVersion: a.Version, CreationContent: creation,
		PowerLevels: st.PowerLevels,
		InitialState: []initialState{
			{Type: "m.room.encryption", Content: provisioning.EncryptionContent{Algorithm: st.Encryption}},
			{Type: "m.room.join_rules", Content: provisioning.JoinRulesContent{JoinRule: st.JoinRule}},
			{Type: "m.room.history_visibility", Content: provisioning.HistoryVisibilityContent{HistoryVisibility: st.HistoryVisibility}},
			{Type: "m.room.guest_access", Content: provisioning.GuestAccessContent{GuestAccess: st.GuestAccess}},
			{Type: provisioning.MarkerEventType, Content: provisioning.Marker{Key: a.Room, Tenant: a.Tenant}},
		},
	}
	if st.ServerACL != nil {
		req.InitialState = append(req.InitialState, initialState{Type: "m.room.server_acl", Content: st.ServerACL})
	}
	if st.Retention != nil {
		req.InitialState = append(req.InitialState, initialState{Type: provisioning.RetentionEventType, Content: st.Retention})
	}
	var resp mautrix.RespCreateRoom
	err := call(ctx, r.attempts(), func() error {
		_, err := hs.Client.MakeRequest(ctx, http.MethodPost, hs.Client.BuildClientURL("v3", "createRoom"), &req, &resp)
		return err
	})
	rid := resp.RoomID
	if errCode(err) == "M_ROOM_IN_USE" {
		// The alias exists: an earlier run created the room and crashed
		// before recording it. The alias makes creation idempotent.
		alias := id.NewRoomAlias(a.Alias, hs.ServerName)
		res, rerr := hs.Client.ResolveAlias(ctx, alias)
		if rerr != nil {
			return fmt.Errorf("alias %s is taken but does not resolve: %w", alias, rerr)
		}
		rid, err = res.RoomID, nil
	}
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.ids[a.Room] = rid
	r.mu.Unlock()
	applied, _ := json.Marshal(a.State)
	return r.ap.Store.SaveRoom(ctx, store.ManagedRoom{Key: string(a.Room), Homeserver: string(a.Homeserver), RoomID: string(rid), Applied: string(applied)})
}

// setAlias creates the alias of a room; an alias that names the room
// already is no error.
func (r *applyRun) setAlias(ctx context.Context, hs *Homeserver, a provisioning.SetAlias) error {
	alias := id.NewRoomAlias(a.Alias, hs.ServerName)
	err := call(ctx, r.attempts(), func() error {
		_, err := hs.Client.CreateAlias(ctx, alias, a.RoomID)
		return err
	})
	if err == nil {
		return nil
	}
	res, rerr := hs.Client.ResolveAlias(ctx, alias)
	if rerr != nil {
		return fmt.Errorf("create alias %s: %w", alias, err)
	} else if res.RoomID == a.RoomID {
		return nil
	}
	// The alias names a duplicate of the room (the planner asks only
	// then): move it.
	if _, err := hs.Client.DeleteAlias(ctx, alias); err != nil {
		return fmt.Errorf("move alias %s from %s: %w", alias, res.RoomID, err)
	}
	if _, err := hs.Client.CreateAlias(ctx, alias, a.RoomID); err != nil {
		return fmt.Errorf("create alias %s: %w", alias, err)
	}
	return nil
}

func (r *applyRun) spaceChild(ctx context.Context, hs *Homeserver, a provisioning.SetSpaceChild) error {
	space, err := r.roomID(a.Space)
	if err != nil {
		return err
	}
	child, content := a.ChildID, map[string]any{}
	if !a.Remove {
		if child, err = r.roomID(a.Child); err != nil {
			return err
		}
		content["via"] = []string{a.Via}
	}
	return call(ctx, r.attempts(), func() error {
		_, err := hs.Client.MakeRequest(ctx, http.MethodPut,
			hs.Client.BuildClientURL("v3", "rooms", space, "state", "m.space.child", child), content, nil)
		return err
	})
}

// join invites the user from the room's host and joins them through their
// own homeserver.
//
// A join over federation ends joined or with an error that names the step
// that failed: the invite (the host refused it, or it is not in the host's
// room afterwards), the invite's way to the user's homeserver (Dendrite, see
// homeserver.InviteWaiter), or the join itself.
func (r *applyRun) join(ctx context.Context, hs *Homeserver, a provisioning.JoinRoom) error {
	rid, err := r.roomID(a.Room)
	if err != nil {
		return err
	}
	if a.Host == a.Homeserver {
		return call(ctx, r.attempts(), func() error { return hs.Admin.Join(ctx, rid, a.User) })
	}
	host, err := r.hs(a.Host)
	if err != nil {
		return err
	}
	rj, ok := hs.Admin.(remoteJoiner)
	if !ok {
		return fmt.Errorf("homeserver %s cannot join users to rooms on other homeservers", a.Homeserver)
	}
	lock := r.remoteJoinLock(a.Room, a.Homeserver)
	lock.Lock()
	defer lock.Unlock()
	if err := r.inviteRemote(ctx, host, rid, a.User); err != nil {
		return err
	}
	// The invite reaches the user's homeserver over federation, after the
	// host answered it. A homeserver already in the room joins locally and
	// refuses (403) while the invite has not arrived yet: wait for it.
	var notSeen error
	if iw, ok := hs.Admin.(homeserver.InviteWaiter); ok {
		if w := r.witness(a.Room, hs); w != "" {
			notSeen = r.awaitInvite(ctx, iw, host, rid, a.User, w)
		}
	}
	join := func() error {
		return call(ctx, r.attempts(), func() error { return rj.JoinRemote(ctx, rid, a.User, []string{host.ServerName}) })
	}
	err = join()
	retry := func(err error) bool {
		return statusOf(err) == http.StatusForbidden || errors.Is(err, homeserver.ErrJoinNotDone)
	}
	for wait := 100 * time.Millisecond; retry(err) && wait <= 3200*time.Millisecond; wait *= 2 {
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(wait):
		}
		err = join()
	}
	if err != nil {
		if notSeen != nil && statusOf(err) == http.StatusForbidden {
			return fmt.Errorf("the invite of %s to %s did not reach %s within %s (the host's federation queue to it is backing off, or its federation listener refuses the host); the next reconcile tries again: %w",
				a.User, rid, hs.ServerName, inviteWait, err)
		}
		return err
	}
	r.mu.Lock()
	r.witnesses[string(hs.Name)+" "+string(a.Room)] = a.User
	r.mu.Unlock()
	return nil
}

// inviteWait bounds the wait for an invite to reach the user's homeserver:
// longer than Dendrite's one-minute limit on waking its queue to a server
// that calls it (see homeserver.InviteWaiter), so one nudge gets through.
// After reinviteAfter without the invite, the host invites once more: a
// new invite event reaches a homeserver that dropped the first one (with
// the first as its predecessor, which that server then fetches).
const (
	inviteWait    = 90 * time.Second
	reinviteAfter = 30 * time.Second
)

// awaitInvite waits until witness, a user of the joining user's homeserver
// in the room, sees the user invited; it re-sends the invite once on the
// way. It returns the error of the last wait (nil: seen).
func (r *applyRun) awaitInvite(ctx context.Context, iw homeserver.InviteWaiter, host *Homeserver, rid id.RoomID, user, witness id.UserID) error {
	wait := func(d time.Duration) error {
		wctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		return iw.WaitForInvite(wctx, rid, user, witness, host.Client.UserID)
	}
	err := wait(reinviteAfter)
	if err == nil || ctx.Err() != nil {
		return err
	}
	warn := func(err error, msg string) {
		if r.ap.Log != nil {
			r.ap.Log.WithError(err).WithFields(logrus.Fields{"user_id": user, "room_id": rid}).Warn(msg)
		}
	}
	warn(err, "invite not seen on the user's homeserver; the host invites again")
	if ierr := r.inviteRemote(ctx, host, rid, user); ierr != nil {
		return ierr
	}
	if err = wait(inviteWait - reinviteAfter); err != nil {
		warn(err, "invite still not seen on the user's homeserver; trying the join anyway")
	}
	return err
}

// inviteRemote invites user to the room rid of host and checks that the
// host's room holds the invite (or the user's join) afterwards; an invite
// the host answered without keeping is sent once more.
func (r *applyRun) inviteRemote(ctx context.Context, host *Homeserver, rid id.RoomID, user id.UserID) error {
	var last error
	for try := 0; try < 2; try++ {
		err := call(ctx, r.attempts(), func() error {
			_, err := host.Client.InviteUser(ctx, rid, &mautrix.ReqInviteUser{UserID: user})
			return err
		})
		// 403: invited or joined already, or not allowed; the state says which.
		if err != nil && statusOf(err) != http.StatusForbidden {
			return fmt.Errorf("invite %s: %w", user, err)
		}
		var m event.MemberEventContent
		serr := call(ctx, r.attempts(), func() error {
			return host.Client.StateEvent(ctx, rid, event.StateMember, user.String(), &m)
		})
		switch {
		case serr == nil && (m.Membership == event.MembershipInvite || m.Membership == event.MembershipJoin):
			return nil
		case serr != nil && !errors.Is(serr, mautrix.MNotFound):
			return fmt.Errorf("read the invite of %s in %s on its host: %w", user, rid, serr)
		case err != nil:
			last = fmt.Errorf("invite %s: %w", user, err)
		default:
			last = fmt.Errorf("invite %s: the host answered, but its room shows membership %q", user, m.Membership)
		}
	}
	return last
}

func (r *applyRun) kick(ctx context.Context, hs *Homeserver, rid id.RoomID, user id.UserID, reason string) error {
	return call(ctx, r.attempts(), func() error {
		_, err := hs.Client.KickUser(ctx, rid, &mautrix.ReqKickUser{UserID: user, Reason: reason})
		return err
	})
}

// closeRoom removes every member, renames the room to say it is closed and
// marks it closed. The room and its history are kept.
func (r *applyRun) closeRoom(ctx context.Context, hs *Homeserver, a provisioning.CloseRoom) error {
	var errs []error
	for _, u := range a.Members {
		if err := r.kick(ctx, hs, a.RoomID, u, "Raum geschlossen"); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	put := func(typ string, content any) error {
		return call(ctx, r.attempts(), func() error {
			_, err := hs.Client.MakeRequest(ctx, http.MethodPut, hs.Client.BuildClientURL("v3", "rooms", a.RoomID, "state", typ, ""), content, nil)
			return err
		})
	}
	var name provisioning.NameContent
	_ = hs.Client.StateEvent(ctx, a.RoomID, eventType("m.room.name"), "", &name)
	if err := put("m.room.name", provisioning.NameContent{Name: "Geschlossen: " + name.Name}); err != nil {
		return err
	}
	return put(provisioning.MarkerEventType, provisioning.Marker{Key: a.Room, Tenant: a.Tenant, Closed: true})
}

// retire removes the members of a duplicate room, clears its marker and
// leaves it.
func (r *applyRun) retire(ctx context.Context, hs *Homeserver, a provisioning.RetireDuplicate) error {
	var errs []error
	for _, u := range a.Members {
		if err := r.kick(ctx, hs, a.RoomID, u, "doppelter Raum"); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	err := call(ctx, r.attempts(), func() error {
		_, err := hs.Client.MakeRequest(ctx, http.MethodPut,
			hs.Client.BuildClientURL("v3", "rooms", a.RoomID, "state", provisioning.MarkerEventType, ""), struct{}{}, nil)
		return err
	})
	if err != nil {
		return err
	}
	return call(ctx, r.attempts(), func() error {
		_, err := hs.Client.LeaveRoom(ctx, a.RoomID)
		return err
	})
}

// recordRooms stores the key, room ID and applied state of every desired
// room that exists and had no failed action, rebuilding the mapping after a
// lost database.
func (r *applyRun) recordRooms(ctx context.Context) error {
	saved, err := r.ap.Store.Rooms(ctx)
	if err != nil {
		return err
	}
	have := map[string]store.ManagedRoom{}
	for _, s := range saved {
		have[s.Key] = s
	}
	var errs []error
	for key, room := range r.want.Rooms {
		rid, ok := r.ids[key]
		if !ok || r.failedRooms[key] {
			continue
		}
		applied, _ := json.Marshal(room.State)
		if s, ok := have[string(key)]; ok && s.RoomID == string(rid) && s.Applied == string(applied) {
			continue
		}
		if err := r.ap.Store.SaveRoom(ctx, store.ManagedRoom{Key: string(key), Homeserver: string(room.Homeserver), RoomID: string(rid), Applied: string(applied)}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// leave has a.User drop their power in a.Room and leave it, acting as them
// on their own homeserver (see provisioning.LeaveRoom). Leavers of one room
// take turns, each building on the power levels the one before left.
func (r *applyRun) leave(ctx context.Context, hs *Homeserver, a provisioning.LeaveRoom) error {
	actor, ok := hs.Admin.(homeserver.UserActor)
	if !ok {
		return fmt.Errorf("homeserver %s cannot act as its users", a.Homeserver)
	}
	l := r.lock("leave " + string(a.Room))
	l.Lock()
	defer l.Unlock()
	return call(ctx, r.attempts(), func() error {
		return actor.AsUser(ctx, a.User, func(cli *mautrix.Client) error {
			var cur provisioning.PowerLevels
			if err := cli.StateEvent(ctx, a.RoomID, eventType("m.room.power_levels"), "", &cur); err != nil {
				return fmt.Errorf("read the power levels as %s: %w", a.User, err)
			}
			if _, has := cur.Users[a.User]; has {
				pl := dropOwnPower(a.PowerLevels, &cur, a.User)
				_, err := cli.MakeRequest(ctx, http.MethodPut, cli.BuildClientURL("v3", "rooms", a.RoomID, "state", "m.room.power_levels", ""), pl, nil)
				if err != nil {
					return fmt.Errorf("drop the power of %s: %w", a.User, err)
				}
			}
			if _, err := cli.LeaveRoom(ctx, a.RoomID, &mautrix.ReqLeave{Reason: a.Reason}); err != nil {
				return fmt.Errorf("leave as %s: %w", a.User, err)
			}
			return nil
		})
	})
}

// dropOwnPower returns the power levels user sets before leaving: want
// (cur if nil) without user, except that users whose current level is as
// high as user's own keep it, since user may not change it (another leaver,
// who leaves after user).
func dropOwnPower(want, cur *provisioning.PowerLevels, user id.UserID) *provisioning.PowerLevels {
	if want == nil {
		want = cur
	}
	out := *want
	out.Users = make(map[id.UserID]int, len(want.Users))
	for u, v := range want.Users {
		out.Users[u] = v
	}
	own := cur.Users[user]
	for u, v := range cur.Users {
		if v >= own {
			out.Users[u] = v
		}
	}
	delete(out.Users, user)
	return &out
}

// deactivate deactivates an account gone from the directory, with erasure
// if asked and the homeserver can (homeserver.Eraser).
func (r *applyRun) deactivate(ctx context.Context, hs *Homeserver, a provisioning.DeactivateAccount) error {
	if err := r.stillIn(a.User); err != nil {
		return err
	}
	deactivate, erase := hs.Admin.Deactivate, ""
	if a.Erase {
		if e, ok := hs.Admin.(homeserver.Eraser); ok {
			deactivate, erase = e.DeactivateErase, EraseDone
		} else {
			erase = EraseUnsupported
			if r.ap.Log != nil {
				r.ap.Log.WithFields(logrus.Fields{"user_id": a.User, "homeserver": a.Homeserver}).Warn("offboarding.erase: the homeserver cannot erase; deactivating without erasure")
			}
		}
	}
	if err := call(ctx, r.attempts(), func() error { return deactivate(ctx, a.User) }); err != nil {
		return err
	}
	r.mu.Lock()
	if o := r.leavers[a.User]; o != nil {
		o.detail.Erase = erase
	}
	r.mu.Unlock()
	return r.ap.Store.SetAccountStatus(ctx, string(a.User), string(provisioning.AccountDeactivated))
}

// The values of OffboardingDetail.Erase.
const (
	EraseDone        = "erased"
	EraseUnsupported = "not possible on this homeserver"
)

// OffboardingDetail is the detail of an offboarding report
// (store.OffboardingReport.Detail, as JSON).
type OffboardingDetail struct {
	// Outcome is "deactivated" (gone from the directory) or "locked"
	// (disabled).
	Outcome string `json:"outcome"`
	// Erase is EraseDone or EraseUnsupported when erasure was asked for.
	Erase string `json:"erase,omitempty"`
	// RoomsLeft are the rooms the person left in this apply.
	RoomsLeft []provisioning.RoomKey `json:"rooms_left"`
	// Handovers are the power the person handed over.
	Handovers []ReportHandover `json:"handovers"`
}

// ReportHandover is a hand-over in an offboarding report.
type ReportHandover struct {
	Room      provisioning.RoomKey  `json:"room"`
	Successor provisioning.PersonID `json:"successor"`
	Level     int                   `json:"level"`
}

// offboarding is what an apply did to an account it deactivates or locks.
type offboarding struct {
	detail OffboardingDetail
	// notLeft are the rooms the account failed to leave.
	notLeft []provisioning.RoomKey
	done    bool
}

// leaversOf returns the accounts plan deactivates or locks.
func leaversOf(plan *provisioning.Plan) map[id.UserID]*offboarding {
	out := map[id.UserID]*offboarding{}
	for _, a := range plan.Actions {
		switch a := a.(type) {
		case provisioning.DeactivateAccount:
			out[a.User] = &offboarding{detail: OffboardingDetail{Outcome: "deactivated"}}
		case provisioning.LockAccount:
			out[a.User] = &offboarding{detail: OffboardingDetail{Outcome: "locked"}}
		}
	}
	return out
}

// note records the outcome of a for the offboarding reports.
func (r *applyRun) note(a provisioning.Action, err error) {
	var user id.UserID
	var room provisioning.RoomKey
	switch a := a.(type) {
	case provisioning.RemoveMember:
		user, room = a.User, a.Room
	case provisioning.LeaveRoom:
		user, room = a.User, a.Room
	case provisioning.DeactivateAccount:
		user = a.User
	case provisioning.LockAccount:
		user = a.User
	default:
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	o := r.leavers[user]
	switch {
	case o == nil:
	case room == "":
		o.done = err == nil
	case err == nil:
		o.detail.RoomsLeft = append(o.detail.RoomsLeft, room)
	default:
		o.notLeft = append(o.notLeft, room)
	}
}

// stillIn refuses to close the account of user while a room they had to
// leave as themselves still holds them: once deactivated they could not
// leave it any more. The next reconcile tries again.
func (r *applyRun) stillIn(user id.UserID) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if o := r.leavers[user]; o != nil && len(o.notLeft) > 0 {
		return fmt.Errorf("not closed: %s could not leave %v yet; the next reconcile tries again", user, o.notLeft)
	}
	return nil
}

// reportOffboardings writes one offboarding report for every account this
// apply deactivated or locked: the rooms it left, the power its person
// handed over (recorded before the plan), what became of the account.
func (r *applyRun) reportOffboardings(ctx context.Context) error {
	var users []id.UserID
	for u, o := range r.leavers {
		if o.done {
			users = append(users, u)
		}
	}
	if len(users) == 0 {
		return nil
	}
	sort.Slice(users, func(i, j int) bool { return users[i] < users[j] })
	accounts, err := r.ap.Store.Accounts(ctx)
	if err != nil {
		return err
	}
	handovers, err := r.ap.Store.Handovers(ctx)
	if err != nil {
		return err
	}
	person := map[id.UserID]store.ManagedAccount{}
	for _, a := range accounts {
		person[id.UserID(a.UserID)] = a
	}
	var errs []error
	for _, u := range users {
		acc := person[u]
		if acc.Person == "" {
			acc.Person, _, _ = u.Parse()
		}
		d := r.leavers[u].detail
		sort.Slice(d.RoomsLeft, func(i, j int) bool { return d.RoomsLeft[i] < d.RoomsLeft[j] })
		if d.RoomsLeft == nil {
			d.RoomsLeft = []provisioning.RoomKey{}
		}
		d.Handovers = []ReportHandover{}
		for _, h := range handovers {
			if h.Leaver == acc.Person {
				d.Handovers = append(d.Handovers, ReportHandover{Room: provisioning.RoomKey(h.Room), Successor: provisioning.PersonID(h.Successor), Level: h.Level})
			}
		}
		detail, _ := json.Marshal(d)
		rep := store.OffboardingReport{Person: acc.Person, UserID: string(u), Tenant: acc.Tenant, At: time.Now(), Detail: string(detail)}
		if _, err := r.ap.Store.AddOffboardingReport(ctx, rep); err != nil {
			errs = append(errs, err)
			continue
		}
		if r.ap.Log != nil {
			r.ap.Log.WithFields(logrus.Fields{"user_id": u, "outcome": d.Outcome, "rooms_left": len(d.RoomsLeft), "handovers": len(d.Handovers)}).Info("offboarded")
		}
	}
	return errors.Join(errs...)
}
