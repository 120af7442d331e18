package service

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/sirupsen/logrus"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/provisioning"
	"github.com/landesmessenger/landesmessenger/provisioning/reconcile"
	"github.com/landesmessenger/landesmessenger/store"
)

// offboardingHook returns the plan hook of offboarding (see
// reconcile.Engine.Hooks) over the engine's homeservers hss. Before every
// plan it remembers the deputies the directory names, and gives successors
// the power leavers handed over to them: the hand-overs recorded earlier,
// and those of the people who leave in this plan (gone from the directory,
// or disabled), decided from the current power levels of the managed rooms
// (provisioning.SelectHandovers) and recorded at once. A hand-over lasts
// while its leaver is away: when they are back, it is forgotten.
func (s *Service) offboardingHook(hss map[config.HomeserverName]*reconcile.Homeserver) reconcile.Hook {
	o := &offboarder{store: s.Store, hss: hss, log: s.log.WithField("component", "offboarding")}
	return o.hook
}

// offboarder is the state of the offboarding hook.
type offboarder struct {
	store *store.Store
	hss   map[config.HomeserverName]*reconcile.Homeserver
	log   logrus.FieldLogger
}

func (o *offboarder) hook(ctx context.Context, cfg *config.Config, people []provisioning.Person, env *provisioning.Environment) ([]provisioning.Person, error) {
	if o.store == nil {
		return people, nil
	}
	present := make(map[provisioning.PersonID]provisioning.Person, len(people))
	for _, p := range people {
		present[p.ID] = p
	}
	deputies, err := o.keepDeputies(ctx, people)
	if err != nil {
		return nil, err
	}
	recorded, err := o.store.Handovers(ctx)
	if err != nil {
		return nil, err
	}
	back := map[string]bool{}
	for _, h := range recorded {
		if p, ok := present[provisioning.PersonID(h.Leaver)]; ok && !p.Disabled && !back[h.Leaver] {
			back[h.Leaver] = true
			if err := o.store.DeleteHandoversOf(ctx, h.Leaver); err != nil {
				return nil, err
			}
			o.log.WithField("person", h.Leaver).Info("leaver is back: their hand-overs end")
		}
	}

	leavers, err := o.leavers(ctx, present)
	if err != nil {
		return nil, err
	}
	var decided []provisioning.Succession
	if len(leavers) > 0 {
		rooms, err := o.power(ctx)
		if err != nil {
			return nil, err
		}
		var warnings []string
		decided, warnings = provisioning.SelectHandovers(provisioning.SuccessionInput{
			Leavers: leavers, Rooms: rooms, People: people, Deputies: deputies,
			UserOf: func(p provisioning.Person) id.UserID {
				hs := p.Homeserver
				if t, ok := cfg.Tenant(p.Tenant); ok && hs == "" {
					hs = t.Homeserver
				}
				return id.NewUserID(string(p.ID), env.ServerNames[hs])
			},
		})
		for _, w := range warnings {
			o.log.Warn(w)
		}
	}
	now := time.Now()
	for _, s := range decided {
		h := store.Handover{Room: string(s.Room), Successor: string(s.Successor), Level: s.Level, Leaver: string(s.Leaver), At: now}
		if err := o.store.SaveHandover(ctx, h); err != nil {
			return nil, err
		}
		o.log.WithFields(logrus.Fields{"room": s.Room, "leaver": s.Leaver, "successor": s.Successor, "level": s.Level}).Info("power handed over")
	}
	for _, h := range recorded {
		if !back[h.Leaver] {
			env.Handovers = append(env.Handovers, provisioning.Handover{Room: provisioning.RoomKey(h.Room), Successor: provisioning.PersonID(h.Successor), Level: h.Level})
		}
	}
	for _, s := range decided {
		env.Handovers = append(env.Handovers, s.Handover)
	}
	return people, nil
}

// keepDeputies brings the remembered deputies up to date with people and
// returns those of the people gone from the directory.
func (o *offboarder) keepDeputies(ctx context.Context, people []provisioning.Person) (map[provisioning.PersonID]provisioning.PersonID, error) {
	stored, err := o.store.Deputies(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range people {
		had, ok := stored[string(p.ID)]
		delete(stored, string(p.ID))
		switch want := (store.Deputy{Person: string(p.ID), Tenant: string(p.Tenant), Deputy: string(p.Deputy)}); {
		case p.Deputy == "" && ok:
			err = o.store.DeleteDeputy(ctx, want.Person)
		case p.Deputy != "" && had != want:
			err = o.store.SaveDeputy(ctx, want)
		}
		if err != nil {
			return nil, err
		}
	}
	gone := make(map[provisioning.PersonID]provisioning.PersonID, len(stored))
	for person, d := range stored {
		gone[provisioning.PersonID(person)] = provisioning.PersonID(d.Deputy)
	}
	return gone, nil
}

// leavers returns the managed accounts still active whose person is gone
// from the directory or disabled: they leave in this plan.
func (o *offboarder) leavers(ctx context.Context, present map[provisioning.PersonID]provisioning.Person) ([]provisioning.Leaver, error) {
	accounts, err := o.store.Accounts(ctx)
	if err != nil {
		return nil, err
	}
	var out []provisioning.Leaver
	for _, a := range accounts {
		if a.Status != string(provisioning.AccountActive) {
			continue
		}
		uid := id.UserID(a.UserID)
		person := provisioning.PersonID(a.Person)
		if person == "" {
			localpart, _, _ := uid.Parse()
			person = provisioning.PersonID(localpart)
		}
		if p, ok := present[person]; ok && !p.Disabled {
			continue
		}
		out = append(out, provisioning.Leaver{Person: person, User: uid, Tenant: config.TenantID(a.Tenant)})
	}
	return out, nil
}

// power reads the current power levels of every managed room the service
// account of its homeserver is in. A room it is no longer in is left out
// (the plan reports it); any other failure stops the plan.
func (o *offboarder) power(ctx context.Context) ([]provisioning.RoomPower, error) {
	rooms, err := o.store.Rooms(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]provisioning.RoomPower, 0, len(rooms))
	for _, r := range rooms {
		hs, ok := o.hss[config.HomeserverName(r.Homeserver)]
		if !ok {
			continue
		}
		var pl event.PowerLevelsEventContent
		err := hs.Client.StateEvent(ctx, id.RoomID(r.RoomID), event.StatePowerLevels, "", &pl)
		if errors.Is(err, mautrix.MForbidden) || errors.Is(err, mautrix.MNotFound) {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("offboarding: power levels of %s: %w", r.Key, err)
		}
		out = append(out, provisioning.RoomPower{Key: provisioning.RoomKey(r.Key), Host: hs.ServerName, Users: pl.Users})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}
