package provisioning

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/provisioning/internal/synth"
)

// benchLand is the planner benchmark's Land: the seven tenants with units
// and rooms totalling 10,000 rooms and a directory of 100,000 people.
func benchLand(b *testing.B) (*config.Config, []Person, Environment) {
	b.Helper()
	land, err := synth.Generate(synth.Spec{People: 100_000, Rooms: 10_000})
	if err != nil {
		b.Fatal(err)
	}
	cfg, people, err := synthInput(land)
	if err != nil {
		b.Fatal(err)
	}
	return cfg, people, testEnvFor(land.Homeservers)
}

// synthInput returns the configuration and the people of a synthetic Land.
func synthInput(land *synth.Land) (*config.Config, []Person, error) {
	cfg, err := config.Parse("synth.yaml", land.Config(synth.Options{StackDir: ".bench"}))
	if err != nil {
		return nil, nil, err
	}
	people := make([]Person, len(land.People))
	for i, p := range land.People {
		people[i] = Person{ID: PersonID(p.ID), DisplayName: p.DisplayName(), Tenant: config.TenantID(p.Tenant), Unit: config.UnitID(p.Unit), Role: Role(p.Role)}
	}
	return cfg, people, nil
}

// testEnvFor is the environment of the named homeservers, each NAME.hessen.test.
func testEnvFor(homeservers []string) Environment {
	env := Environment{ServerNames: map[config.HomeserverName]string{}, Service: map[config.HomeserverName]id.UserID{}}
	for _, hs := range homeservers {
		name := config.HomeserverName(hs)
		env.ServerNames[name] = hs + ".hessen.test"
		env.Service[name] = id.NewUserID("landesmessenger", hs+".hessen.test")
	}
	return env
}

// BenchmarkPlan measures Build and Compute together on 100,000 people and
// 10,000 rooms, against empty homeservers and against a converged state
// with a few changes (renamed, moved and departed people, a missing room,
// a power level changed by hand). Besides time and allocations it reports
// the peak heap seen during the run and the process's peak RSS, which
// includes the fixture (configuration, people, current state).
func BenchmarkPlan(b *testing.B) {
	cfg, people, env := benchLand(b)
	opts := Options{MaxRemovalShare: 0.1, DeactivateRemoved: true}

	// A few changes against the converged state.
	changed := append([]Person(nil), people...)
	for i := 0; i < 5; i++ {
		changed[1000+i].DisplayName += " Dr."
	}
	for i := 0; i < 3; i++ {
		p := &changed[2000+i*7]
		if p.Unit == "u1" {
			p.Unit = "u2"
		} else {
			p.Unit = "u1"
		}
	}
	changed = append(changed[:3000], changed[3002:]...)
	// converged returns the current state after a complete apply of the
	// unchanged Land, changed by hand in two places. It is built only for
	// the case that needs it, so that the peak RSS of a case run alone
	// (-bench BenchmarkPlan/NAME) holds only its own fixture.
	convergedState := func(b *testing.B) *Current {
		d, err := Build(cfg, people, env)
		if err != nil {
			b.Fatal(err)
		}
		cur := converged(d)
		delete(cur.Rooms, "hmdis/projekt-7")
		for u := range cur.Rooms["polizei/leitung"].State.PowerLevels.Users {
			cur.Rooms["polizei/leitung"].State.PowerLevels.Users[u] = 1
			break
		}
		return cur
	}
	emptyState := func(*testing.B) *Current {
		return &Current{Accounts: map[id.UserID]*CurrentAccount{}, Rooms: map[RoomKey]*CurrentRoom{}}
	}

	cases := []struct {
		name   string
		cur    func(*testing.B) *Current
		people []Person
	}{
		{"empty", emptyState, people},
		{"converged-few-changes", convergedState, changed},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			cur := tc.cur(b)
			b.ReportAllocs()
			runtime.GC()
			peak := watchHeap()
			var actions int
			for b.Loop() {
				want, err := Build(cfg, tc.people, env)
				if err != nil {
					b.Fatal(err)
				}
				plan, err := Compute(cur, want, opts)
				if err != nil {
					b.Fatal(err)
				}
				actions = len(plan.Actions)
			}
			b.ReportMetric(float64(actions), "actions")
			b.ReportMetric(float64(peak())/1e6, "peak-heap-MB")
			if rss := maxRSS(); rss > 0 {
				b.ReportMetric(float64(rss)/1e6, "peak-RSS-MB")
			}
		})
	}
}

// watchHeap samples the heap (live and not yet swept objects) every
// millisecond until the returned function is called, which returns the
// largest sample.
func watchHeap() func() uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var (
		mu   sync.Mutex
		max  uint64
		stop = make(chan struct{})
		done = make(chan struct{})
	)
	read := func() {
		metrics.Read(sample)
		mu.Lock()
		if v := sample[0].Value.Uint64(); v > max {
			max = v
		}
		mu.Unlock()
	}
	go func() {
		defer close(done)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			read()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(stop)
		<-done
		read()
		mu.Lock()
		defer mu.Unlock()
		return max
	}
}

// TestSynthLandHasTheRequestedSize checks that the synthetic Land of the
// benchmarks has as many rooms and accounts as asked for.
func TestSynthLandHasTheRequestedSize(t *testing.T) {
	for _, spec := range []synth.Spec{{People: 2000, Rooms: 200}, {People: 70, Rooms: synth.MinRooms}} {
		land, err := synth.Generate(spec)
		if err != nil {
			t.Fatal(err)
		}
		cfg, people, err := synthInput(land)
		if err != nil {
			t.Fatal(err)
		}
		d, err := Build(cfg, people, testEnvFor(land.Homeservers))
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Rooms) != spec.Rooms || len(d.Accounts) != spec.People {
			t.Errorf("%+v: got %d rooms and %d accounts, want %d and %d", spec, len(d.Rooms), len(d.Accounts), spec.Rooms, spec.People)
		}
	}
}
