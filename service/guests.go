package service

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
	"maunium.net/go/mautrix/synapseadmin"

	"github.com/landesmessenger/landesmessenger/bots/admin"
	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/homeserver"
	"github.com/landesmessenger/landesmessenger/provisioning"
	"github.com/landesmessenger/landesmessenger/provisioning/reconcile"
	"github.com/landesmessenger/landesmessenger/store"
)

// This file holds the service's side of external guests (docs/lifecycle.md):
// the plan hook that makes every active guest a person of the plan, and the
// guest worker of serve, which ends guests whose time is up and makes guests
// leave the rooms they created (no homeserver can forbid one user to create
// rooms, so that rule is enforced after the fact).

// Environment variables for tests only: they let an integration test see
// in seconds what takes days or minutes in service.
const (
	// NowOffsetEnv shifts the clock of the guest hook and the guest worker
	// by a Go duration (LM_NOW_OFFSET=2400h: 100 days later). The admin
	// bot keeps the real clock.
	NowOffsetEnv = "LM_NOW_OFFSET"
	// GuestCheckEveryEnv replaces the guest worker's interval (GuestCheckEvery).
	GuestCheckEveryEnv = "LM_GUEST_CHECK_EVERY"
)

// GuestCheckEvery is how often serve ends expired guests and looks for
// rooms guests created.
const GuestCheckEvery = time.Minute

// guestClock returns the clock of the guests' expiry: time.Now, shifted by
// NowOffsetEnv if set.
func guestClock() (func() time.Time, error) {
	v := os.Getenv(NowOffsetEnv)
	if v == "" {
		return time.Now, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", NowOffsetEnv, err)
	}
	return func() time.Time { return time.Now().Add(d) }, nil
}

// guestHook is the plan hook of guests: it adds every guest who is active
// and not expired at the guest clock as an external person, on the
// homeserver of their account, invited to their rooms only.
func (s *Service) guestHook(ctx context.Context, cfg *config.Config, people []provisioning.Person, env *provisioning.Environment) ([]provisioning.Person, error) {
	clock, err := guestClock()
	if err != nil {
		return nil, err
	}
	guests, err := s.Store.Guests(ctx)
	if err != nil {
		return nil, err
	}
	now := clock()
	homeOf := map[string]config.HomeserverName{}
	for name, server := range env.ServerNames {
		homeOf[server] = name
	}
	taken := map[provisioning.PersonID]bool{}
	for _, p := range people {
		taken[p.ID] = true
	}
	for _, g := range guests {
		if g.Status != store.GuestActive || !g.ExpiresAt.After(now) {
			continue
		}
		log := s.log.WithFields(logrus.Fields{"component": "guests", "guest": g.UserID, "tenant": g.Tenant})
		local, server, err := id.UserID(g.UserID).Parse()
		hs, known := homeOf[server]
		_, tenant := cfg.Tenant(config.TenantID(g.Tenant))
		switch {
		case err != nil || !known:
			log.Warn("guest left out of the plan: their homeserver is not configured")
			continue
		case !tenant:
			log.Warn("guest left out of the plan: their tenant is not configured")
			continue
		case taken[provisioning.PersonID(local)]:
			log.Warn("guest left out of the plan: a person of the directory has the same id")
			continue
		}
		rooms := make([]provisioning.RoomKey, len(g.Rooms))
		for i, r := range g.Rooms {
			rooms[i] = provisioning.RoomKey(r)
		}
		people = append(people, provisioning.Person{
			ID: provisioning.PersonID(local), DisplayName: admin.GuestDisplayName(g), Tenant: config.TenantID(g.Tenant),
			Role: provisioning.RoleMember, External: true, Homeserver: hs, Rooms: rooms,
		})
	}
	return people, nil
}

var _ admin.GuestRetirer = adminEnv{}

// RetireGuests ends guests for the admin bot (see retireGuests).
func (e adminEnv) RetireGuests(ctx context.Context, users []id.UserID) (*reconcile.Result, error) {
	return e.s.retireGuests(ctx, e.eng, users)
}

// retireGuests removes guests from every managed room they are in and
// deactivates their accounts, serialized with reconciles. It does not go
// through the planner: ending a guest is deliberate, and the planner's
// mass-removal guard would hold it up in a tenant with few people (one
// guest of a tenant with four people is 20 % of its accounts). The guests
// must be ended in the store already, or the next plan makes them again.
func (s *Service) retireGuests(ctx context.Context, eng *reconcile.Engine, users []id.UserID) (*reconcile.Result, error) {
	s.reconcileMu.Lock()
	defer s.reconcileMu.Unlock()
	cur, _, err := reconcile.Read(ctx, eng.Homeservers, s.Store)
	if err != nil {
		return nil, err
	}
	keys := make([]provisioning.RoomKey, 0, len(cur.Rooms))
	for key := range cur.Rooms {
		keys = append(keys, key)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	var actions []provisioning.Action
	for _, u := range users {
		acc := cur.Accounts[u]
		if acc == nil || acc.Status == provisioning.AccountDeactivated {
			continue
		}
		for _, key := range keys {
			if r := cur.Rooms[key]; r.Members[u] != "" {
				actions = append(actions, provisioning.RemoveMember{Base: provisioning.Base{Tenant: r.Tenant, Homeserver: r.Homeserver},
					Room: key, User: u, Reason: "Gastzugang beendet"})
			}
		}
		actions = append(actions, provisioning.DeactivateAccount{Base: provisioning.Base{Tenant: acc.Tenant, Homeserver: acc.Homeserver},
			User: u, Erase: eng.Config.Offboarding.Erase})
	}
	if len(actions) == 0 {
		return &reconcile.Result{}, nil
	}
	creds, err := reconcile.LoadCredentials(eng.Config.Provisioning.CredentialsFile)
	if err != nil {
		return nil, err
	}
	ap := &reconcile.Applier{
		Homeservers: eng.Homeservers, Store: s.Store, Credentials: creds,
		Concurrency: eng.Config.Provisioning.Concurrency, Attempts: 5, Log: eng.Log,
	}
	res, err := ap.Apply(ctx, &provisioning.Plan{Actions: actions}, cur, &provisioning.Desired{})
	if err != nil {
		return res, err
	}
	for _, a := range actions {
		s.log.WithFields(logrus.Fields{"component": "guests", "audit": true, "action": provisioning.Describe(a)}).Info("guest retired")
	}
	for _, e := range res.Errors {
		s.log.WithError(e).WithField("component", "guests").Warn("retiring a guest failed; the next round retries")
	}
	return res, nil
}

// startGuestWorker runs the guest worker until ctx ends.
func (s *Service) startGuestWorker(ctx context.Context, eng *reconcile.Engine) *sync.WaitGroup {
	var wg sync.WaitGroup
	log := s.log.WithField("component", "guests")
	clock, err := guestClock()
	if err != nil {
		log.WithError(err).Error("guest worker not started")
		return &wg
	}
	every := GuestCheckEvery
	if v := os.Getenv(GuestCheckEveryEnv); v != "" {
		if d, err := time.ParseDuration(v); err != nil || d <= 0 {
			log.WithField("value", v).Warn(GuestCheckEveryEnv + " is no positive duration; checking every minute")
		} else {
			every = d
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.guestWorker(ctx, eng, clock, every, log)
	}()
	return &wg
}

// guestWorker runs a guest round at once and then every every, until ctx
// ends.
func (s *Service) guestWorker(ctx context.Context, eng *reconcile.Engine, now func() time.Time, every time.Duration, log logrus.FieldLogger) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	s.guestRound(ctx, eng, now(), log)
	log.WithFields(logrus.Fields{"every": every, "now": now().UTC().Format(time.RFC3339)}).Info("guest worker running")
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s.guestRound(ctx, eng, now(), log)
	}
}

// guestRound marks the guests whose time is up as expired, retires every
// ended guest whose account is still active (then reconciles, as a plan
// refused for that guest may have left other changes undone), and makes
// active guests leave the rooms they created. Failures are logged; the
// next round retries.
func (s *Service) guestRound(ctx context.Context, eng *reconcile.Engine, now time.Time, log logrus.FieldLogger) {
	expired, err := s.Store.ExpireGuests(ctx, now)
	if err != nil {
		log.WithError(err).Warn("expiring guests failed")
	}
	for _, g := range expired {
		log.WithFields(logrus.Fields{"audit": true, "guest": g.UserID, "tenant": g.Tenant, "expires_at": g.ExpiresAt.UTC().Format(time.RFC3339)}).Info("guest access expired")
	}
	guests, err := s.Store.Guests(ctx)
	if err != nil {
		log.WithError(err).Warn("reading the guests failed")
		return
	}
	accounts, err := s.Store.Accounts(ctx)
	if err != nil {
		log.WithError(err).Warn("reading the accounts failed")
		return
	}
	live := map[string]bool{}
	for _, a := range accounts {
		live[a.UserID] = a.Status != string(provisioning.AccountDeactivated)
	}
	var ended []id.UserID
	var active []store.Guest
	for _, g := range guests {
		switch {
		case g.Status == store.GuestActive && g.ExpiresAt.After(now):
			active = append(active, g)
		case g.Status != store.GuestActive && live[g.UserID]:
			ended = append(ended, id.UserID(g.UserID))
		}
	}
	if len(ended) > 0 {
		if _, err := s.retireGuests(ctx, eng, ended); err != nil {
			log.WithError(err).Warn("retiring guests failed; the next round retries")
		} else {
			s.reconcileOnce(ctx, eng, eng.Log)
		}
	}
	if len(active) > 0 {
		s.leaveGuestRooms(ctx, eng, active, log)
	}
}

// leaveGuestRooms makes every guest of guests leave the rooms they created
// (rooms whose m.room.create they sent), except managed rooms.
func (s *Service) leaveGuestRooms(ctx context.Context, eng *reconcile.Engine, guests []store.Guest, log logrus.FieldLogger) {
	managed := map[id.RoomID]bool{}
	rooms, err := s.Store.Rooms(ctx)
	if err != nil {
		log.WithError(err).Warn("reading the managed rooms failed")
		return
	}
	for _, r := range rooms {
		managed[id.RoomID(r.RoomID)] = true
	}
	for _, g := range guests {
		user := id.UserID(g.UserID)
		hs, impl := s.homeserverOf(eng, user)
		if hs == nil {
			continue
		}
		actor, canAct := hs.Admin.(homeserver.UserActor)
		if !canAct {
			continue
		}
		var finder roomCreations = actorCreations{actor}
		if impl == homeserver.Synapse {
			finder = synapseCreations{hs.Client}
		}
		created, err := finder.created(ctx, user, managed)
		if err != nil {
			log.WithError(err).WithField("guest", user).Warn("looking for rooms the guest created failed")
			continue
		}
		for _, room := range created {
			err := actor.AsUser(ctx, user, func(cli *mautrix.Client) error {
				_, err := cli.LeaveRoom(ctx, room, &mautrix.ReqLeave{Reason: "Gäste dürfen keine Räume anlegen"})
				return err
			})
			fields := logrus.Fields{"audit": true, "guest": user, "tenant": g.Tenant, "room_id": room}
			if err != nil {
				log.WithError(err).WithFields(fields).Warn("a guest created a room; making them leave it failed")
				continue
			}
			log.WithFields(fields).Warn("a guest created a room; made them leave it (guests may not create rooms)")
		}
	}
}

// homeserverOf returns the connected homeserver of a local user, with its
// implementation.
func (s *Service) homeserverOf(eng *reconcile.Engine, user id.UserID) (*reconcile.Homeserver, homeserver.Implementation) {
	for i, c := range s.Conns {
		hs := eng.Homeservers[config.HomeserverName(c.Endpoint.Name)]
		if hs != nil && hs.ServerName == user.Homeserver() {
			return hs, s.Conns[i].Implementation
		}
	}
	return nil, ""
}

// roomCreations finds the rooms a local user created, other than those of
// skip.
type roomCreations interface {
	created(ctx context.Context, user id.UserID, skip map[id.RoomID]bool) ([]id.RoomID, error)
}

// synapseCreations asks Synapse's admin API: the user's joined rooms, and
// each room's creator.
type synapseCreations struct{ cli *mautrix.Client }

func (f synapseCreations) created(ctx context.Context, user id.UserID, skip map[id.RoomID]bool) ([]id.RoomID, error) {
	adm := synapseadmin.Client{Client: f.cli}
	var joined mautrix.RespJoinedRooms
	if _, err := f.cli.MakeRequest(ctx, http.MethodGet, adm.BuildAdminURL("v1", "users", user, "joined_rooms"), nil, &joined); err != nil {
		return nil, fmt.Errorf("joined rooms of %s: %w", user, err)
	}
	var out []id.RoomID
	for _, room := range joined.JoinedRooms {
		if skip[room] {
			continue
		}
		info, err := adm.RoomInfo(ctx, room)
		if err != nil {
			return out, fmt.Errorf("room %s: %w", room, err)
		}
		if info.Creator == user {
			out = append(out, room)
		}
	}
	return out, nil
}

// actorCreations looks as the user: their joined rooms, and who sent each
// room's m.room.create (the creator, in every room version).
type actorCreations struct{ actor homeserver.UserActor }

func (f actorCreations) created(ctx context.Context, user id.UserID, skip map[id.RoomID]bool) ([]id.RoomID, error) {
	var out []id.RoomID
	err := f.actor.AsUser(ctx, user, func(cli *mautrix.Client) error {
		joined, err := cli.JoinedRooms(ctx)
		if err != nil {
			return fmt.Errorf("joined rooms of %s: %w", user, err)
		}
		for _, room := range joined.JoinedRooms {
			if skip[room] {
				continue
			}
			state, err := cli.State(ctx, room)
			if err != nil {
				return fmt.Errorf("state of %s: %w", room, err)
			}
			if create := state[event.StateCreate][""]; create != nil && create.Sender == user {
				out = append(out, room)
			}
		}
		return nil
	})
	return out, err
}
