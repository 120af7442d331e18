package store

import (
	"context"
	"testing"
	"time"
)

// TestOnboarding runs the onboarding bot's store methods on both backends.
func TestOnboarding(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			b.require(t)
			testOnboarding(t, b)
		})
	}
}

func testOnboarding(t *testing.T, b backend) {
	ctx := context.Background()
	st := openStore(t, b.newURI(t))
	t0 := time.UnixMilli(1_790_000_000_000)

	// Versions: the first sighting stays.
	for i, now := range []time.Time{t0, t0.Add(time.Hour)} {
		first, err := st.SeeOnboardingVersion(ctx, "2026-11", now)
		if err != nil || !first.Equal(t0) {
			t.Errorf("SeeOnboardingVersion #%d: got %v, %v; want %v", i+1, first, err, t0)
		}
	}
	if first, err := st.SeeOnboardingVersion(ctx, "2027-01", t0.Add(2*time.Hour)); err != nil || !first.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("SeeOnboardingVersion of a second version: got %v, %v", first, err)
	}

	if versions, err := st.OnboardingVersions(ctx); err != nil || len(versions) != 2 || !versions["2026-11"].Equal(t0) {
		t.Errorf("OnboardingVersions: got %v, %v; want 2026-11 at %v and 2027-01", versions, err, t0)
	}

	// Acknowledgements: the first of a person and version is kept.
	ack := OnboardingAck{Person: "gmeier", UserID: "@gmeier:forst.test", Version: "2026-11", At: t0, EventID: "$a", TextHash: "abc"}
	later := ack
	later.EventID, later.At = "$b", t0.Add(time.Minute)
	for i, tc := range []struct {
		ack  OnboardingAck
		want bool
	}{{ack, true}, {later, false}} {
		if isNew, err := st.SaveOnboardingAck(ctx, tc.ack); err != nil || isNew != tc.want {
			t.Errorf("SaveOnboardingAck #%d: got %v, %v; want %v", i+1, isNew, err, tc.want)
		}
	}
	other := OnboardingAck{Person: "gmeier", UserID: "@gmeier:forst.test", Version: "2027-01", At: t0.Add(time.Hour), EventID: "$c", TextHash: "def"}
	if _, err := st.SaveOnboardingAck(ctx, other); err != nil {
		t.Fatal(err)
	}
	acks, err := st.OnboardingAcks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(acks) != 2 || acks[0] != (OnboardingAck{Person: "gmeier", UserID: "@gmeier:forst.test", Version: "2026-11", At: t0, EventID: "$a", TextHash: "abc"}) ||
		acks[1].Version != "2027-01" {
		t.Errorf("OnboardingAcks: got %+v, want the first ack of 2026-11, then 2027-01", acks)
	}

	// Direct chats: saved, replaced, found by room; zero times stay zero.
	dm := OnboardingDM{Person: "gmeier", UserID: "@gmeier:forst.test", Bot: "@lm-einweisung:forst.test", RoomID: "!dm:forst.test"}
	if err := st.SaveOnboardingDM(ctx, dm); err != nil {
		t.Fatal(err)
	}
	got, err := st.OnboardingDMInRoom(ctx, "!dm:forst.test")
	if err != nil || got == nil || *got != dm {
		t.Fatalf("OnboardingDMInRoom before sending: got %+v, %v; want %+v", got, err, dm)
	}
	dm.Version, dm.EventID, dm.SentAt, dm.RemindedAt = "2026-11", "$instr", t0, t0.Add(72*time.Hour)
	if err := st.SaveOnboardingDM(ctx, dm); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveOnboardingDM(ctx, OnboardingDM{Person: "hkrause", UserID: "@hkrause:forst.test", Bot: "@lm-einweisung:forst.test", RoomID: "!dm2:forst.test"}); err != nil {
		t.Fatal(err)
	}
	dms, err := st.OnboardingDMs(ctx)
	if err != nil || len(dms) != 2 || dms[0] != dm || dms[1].Person != "hkrause" {
		t.Errorf("OnboardingDMs: got %+v, %v; want gmeier's (replaced) and hkrause's", dms, err)
	}
	if none, err := st.OnboardingDMInRoom(ctx, "!unknown:forst.test"); none != nil || err != nil {
		t.Errorf("OnboardingDMInRoom(unknown): got %+v, %v; want nil", none, err)
	}
}
