package onboarding

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/landesmessenger/landesmessenger/provisioning"
	"github.com/landesmessenger/landesmessenger/store"
)

// TestHook walks through a person's onboarding with a controlled clock:
// step by step, who the hook marks Pending.
func TestHook(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	cfg := testConfig(t)
	clk := newClock()
	hook := Hook(st, clk.Now)
	guest := person("ext.holz", "hessenforst")
	guest.External = true
	people := []provisioning.Person{person("gmeier", "hessenforst"), person("hkrause", "hessenforst"), guest}
	ack := func(pid, version string) {
		t.Helper()
		if _, err := st.SaveOnboardingAck(ctx, store.OnboardingAck{Person: pid, UserID: "@" + pid + ":forst.test", Version: version, At: clk.now, EventID: "$ack", TextHash: "h"}); err != nil {
			t.Fatal(err)
		}
	}
	const day = 24 * time.Hour
	steps := []struct {
		name        string
		do          func()
		wantPending []string
	}{
		{"new people have not acknowledged", func() {}, []string{"gmeier", "hkrause"}},
		{"an acknowledgement opens the rooms", func() { clk.advance(time.Hour); ack("gmeier", "2026-11") }, []string{"hkrause"}},
		{"a new version: within the grace period everyone who acknowledged before keeps access", func() {
			clk.advance(30 * day)
			cfg.Onboarding.Version = "2027-01"
		}, []string{"hkrause"}},
		{"one minute before the grace period ends", func() { clk.advance(14*day - time.Minute) }, []string{"hkrause"}},
		{"the grace period ended", func() { clk.advance(time.Minute) }, []string{"gmeier", "hkrause"}},
		{"a late acknowledgement restores access", func() { clk.advance(3 * day); ack("gmeier", "2027-01") }, []string{"hkrause"}},
		{"an acknowledgement of the new version alone counts too", func() { ack("hkrause", "2027-01") }, nil},
	}
	for _, step := range steps {
		step.do()
		got, err := hook(ctx, cfg, people, &provisioning.Environment{})
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		var pending []string
		for _, p := range got {
			if p.Pending {
				pending = append(pending, string(p.ID))
			}
		}
		if !slices.Equal(pending, step.wantPending) {
			t.Errorf("%s: got pending %v, want %v", step.name, pending, step.wantPending)
		}
	}
	if people[0].Pending || people[1].Pending {
		t.Errorf("the hook changed the people passed in")
	}
	versions, err := st.OnboardingVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(time.Hour + 30*day); !versions["2027-01"].Equal(want) {
		t.Errorf("first sighting of 2027-01: got %v, want %v (the first plan that saw it)", versions["2027-01"], want)
	}
}

// TestHookWelcome: with onboarding on, the plan gets welcome rooms; off (or
// without the section), the hook changes nothing.
func TestHookWelcome(t *testing.T) {
	st := openStore(t)
	people := []provisioning.Person{person("gmeier", "hessenforst")}
	for _, enabled := range []bool{true, false} {
		cfg := testConfig(t)
		cfg.Onboarding.Enabled = enabled
		var env provisioning.Environment
		got, err := Hook(st, time.Now)(context.Background(), cfg, people, &env)
		if err != nil {
			t.Fatal(err)
		}
		if env.Welcome != enabled || got[0].Pending != enabled {
			t.Errorf("enabled=%v: got welcome %v, pending %v; want both %v", enabled, env.Welcome, got[0].Pending, enabled)
		}
	}
}
