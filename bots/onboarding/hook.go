package onboarding

import (
	"context"
	"time"

	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/provisioning"
	"github.com/landesmessenger/landesmessenger/provisioning/reconcile"
	"github.com/landesmessenger/landesmessenger/store"
)

// Hook returns the provisioning hook of onboarding. With onboarding
// enabled it turns the welcome rooms on and marks Pending every person
// who has not acknowledged the version in force and either never
// acknowledged any version or whose grace period ran out (see Mark). It
// records when the version in force was first seen, from which the grace
// period runs. now is the clock.
func Hook(st *store.Store, now func() time.Time) reconcile.Hook {
	return func(ctx context.Context, cfg *config.Config, people []provisioning.Person, env *provisioning.Environment) ([]provisioning.Person, error) {
		if !cfg.Onboarding.Enabled {
			return people, nil
		}
		env.Welcome = true
		return Mark(ctx, st, cfg.Onboarding, now(), people)
	}
}

// Mark returns a copy of people with Pending set for those who still have
// to acknowledge version o.Version at time now. It records now as the
// version's first sighting if it is new. External guests are never
// marked: the instruction is for staff.
func Mark(ctx context.Context, st *store.Store, o config.Onboarding, now time.Time, people []provisioning.Person) ([]provisioning.Person, error) {
	first, err := st.SeeOnboardingVersion(ctx, o.Version, now)
	if err != nil {
		return nil, err
	}
	acks, err := acknowledged(ctx, st)
	if err != nil {
		return nil, err
	}
	out := append([]provisioning.Person(nil), people...)
	for i := range out {
		p := &out[i]
		if !p.External && !hasAccess(acks[p.ID], o, first, now) {
			p.Pending = true
		}
	}
	return out, nil
}

// hasAccess reports whether a person with acks may be in official rooms at
// now: they acknowledged version o.Version, or they acknowledged an earlier
// one and the grace period of o.Version (from first, its first sighting)
// has not run out.
func hasAccess(acks map[string]store.OnboardingAck, o config.Onboarding, first, now time.Time) bool {
	if _, ok := acks[o.Version]; ok {
		return true
	}
	return len(acks) > 0 && now.Before(first.Add(o.Grace))
}

// acknowledged returns the acknowledgements by person and version.
func acknowledged(ctx context.Context, st *store.Store) (map[provisioning.PersonID]map[string]store.OnboardingAck, error) {
	all, err := st.OnboardingAcks(ctx)
	if err != nil {
		return nil, err
	}
	out := map[provisioning.PersonID]map[string]store.OnboardingAck{}
	for _, a := range all {
		p := provisioning.PersonID(a.Person)
		if out[p] == nil {
			out[p] = map[string]store.OnboardingAck{}
		}
		out[p][a.Version] = a
	}
	return out, nil
}
