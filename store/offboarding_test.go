package store

import (
	"context"
	"testing"
	"time"
)

// TestOffboarding runs offboarding's store methods on both backends.
func TestOffboarding(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			b.require(t)
			testOffboarding(t, b)
		})
	}
}

func testOffboarding(t *testing.T, b backend) {
	ctx := context.Background()
	st := openStore(t, b.newURI(t))
	t0 := time.UnixMilli(1_790_000_000_000)

	// Deputies: saving replaces, deleting forgets.
	for _, d := range []Deputy{{"mmustermann", "hmdis", "jfischer"}, {"mmustermann", "hmdis", "eschmidt"}, {"lhoffmann", "stk", "tbecker"}} {
		if err := st.SaveDeputy(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.DeleteDeputy(ctx, "lhoffmann"); err != nil {
		t.Fatal(err)
	}
	deps, err := st.Deputies(ctx)
	if err != nil || len(deps) != 1 || deps["mmustermann"] != (Deputy{"mmustermann", "hmdis", "eschmidt"}) {
		t.Errorf("Deputies: got %v, %v; want mmustermann's deputy eschmidt only", deps, err)
	}

	// Hand-overs: one level per room and successor, the higher one; the
	// first time of a leaver stays.
	for _, h := range []Handover{
		{Room: "hmdis/allgemein", Successor: "eschmidt", Level: 50, Leaver: "mmustermann", At: t0},
		{Room: "hmdis/allgemein", Successor: "eschmidt", Level: 100, Leaver: "mmustermann", At: t0.Add(time.Hour)},
		{Room: "hmdis/allgemein", Successor: "eschmidt", Level: 50, Leaver: "jfischer", At: t0.Add(2 * time.Hour)},
		{Room: "hmdis/leitung", Successor: "eschmidt", Level: 100, Leaver: "mmustermann", At: t0},
		{Room: "stk/allgemein", Successor: "tbecker", Level: 50, Leaver: "lhoffmann", At: t0},
	} {
		if err := st.SaveHandover(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.DeleteHandoversOf(ctx, "lhoffmann"); err != nil {
		t.Fatal(err)
	}
	hs, err := st.Handovers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []Handover{
		{Room: "hmdis/allgemein", Successor: "eschmidt", Level: 100, Leaver: "mmustermann", At: t0},
		{Room: "hmdis/leitung", Successor: "eschmidt", Level: 100, Leaver: "mmustermann", At: t0},
	}
	if len(hs) != len(want) {
		t.Fatalf("Handovers: got %+v, want %+v", hs, want)
	}
	for i := range want {
		if hs[i].Room != want[i].Room || hs[i].Successor != want[i].Successor || hs[i].Level != want[i].Level || hs[i].Leaver != want[i].Leaver {
			t.Errorf("Handovers[%d]: got %+v, want %+v", i, hs[i], want[i])
		}
	}
	if !hs[0].At.Equal(t0) {
		t.Errorf("time of a repeated hand-over: got %v, want the first, %v", hs[0].At, t0)
	}

	// Reports: appended, read from a time on, oldest first.
	for i, r := range []OffboardingReport{
		{Person: "mmustermann", UserID: "@mmustermann:land.test", Tenant: "hmdis", At: t0, Detail: `{"rooms_left":["hmdis/allgemein"]}`},
		{Person: "lhoffmann", UserID: "@lhoffmann:land.test", Tenant: "stk", At: t0.Add(time.Hour), Detail: `{}`},
	} {
		id, err := st.AddOffboardingReport(ctx, r)
		if err != nil || id != int64(i+1) {
			t.Errorf("AddOffboardingReport #%d: got id %d, %v; want %d", i+1, id, err, i+1)
		}
	}
	all, err := st.OffboardingReports(ctx, time.Time{})
	if err != nil || len(all) != 2 || all[0].Person != "mmustermann" || all[0].Detail != `{"rooms_left":["hmdis/allgemein"]}` || !all[0].At.Equal(t0) {
		t.Errorf("OffboardingReports: got %+v, %v; want both, mmustermann first", all, err)
	}
	later, err := st.OffboardingReports(ctx, t0.Add(time.Minute))
	if err != nil || len(later) != 1 || later[0].Person != "lhoffmann" || later[0].ID != 2 {
		t.Errorf("OffboardingReports since a later time: got %+v, %v; want lhoffmann's only", later, err)
	}
}
