package store

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/records"
	"github.com/landesmessenger/landesmessenger/retention"
)

// TestRetention runs the legal holds and the deletion log on both backends.
func TestRetention(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			b.require(t)
			st := openStore(t, b.newURI(t))
			t.Run("LegalHolds", func(t *testing.T) { testLegalHolds(t, st) })
			t.Run("DeletionLog", func(t *testing.T) { testDeletionLog(t, st) })
			t.Run("Marks", func(t *testing.T) { testMarks(t, st) })
		})
	}
}

func testLegalHolds(t *testing.T, st *Store) {
	ctx := context.Background()
	t0 := time.UnixMilli(1_795_000_000_000)
	room := retention.Hold{Scope: retention.ScopeRoom, Target: "polizei/allgemein", Reason: "Az. 4 Js 123/26", SetBy: "@kwagner:land.test", SetAt: t0}
	person := retention.Hold{Scope: retention.ScopePerson, Target: "@ewache:polizei.test", Reason: "Az. 4 Js 124/26", SetBy: "@kwagner:land.test", SetAt: t0.Add(time.Minute)}
	var ids []int64
	for _, h := range []retention.Hold{room, person} {
		holdID, err := st.SetHold(ctx, h)
		if err != nil {
			t.Fatalf("SetHold(%s %s): %v", h.Scope, h.Target, err)
		}
		ids = append(ids, holdID)
	}
	if ids[0] <= 0 || ids[1] <= ids[0] {
		t.Errorf("hold IDs %v: want positive and increasing", ids)
	}
	bad := room
	bad.Reason = ""
	if _, err := st.SetHold(ctx, bad); !errors.Is(err, retention.ErrInvalidHold) {
		t.Errorf("SetHold without a reason: got %v, want ErrInvalidHold", err)
	}

	got, err := st.ActiveHolds(ctx)
	room.ID, person.ID = ids[0], ids[1]
	if err != nil || !reflect.DeepEqual(got, []retention.Hold{room, person}) {
		t.Fatalf("ActiveHolds: got %+v, %v; want %+v", got, err, []retention.Hold{room, person})
	}

	if ok, err := st.LiftHold(ctx, ids[0], "@sweber:land.test", t0.Add(time.Hour)); err != nil || !ok {
		t.Errorf("LiftHold: got %t, %v; want true", ok, err)
	}
	if ok, err := st.LiftHold(ctx, ids[0], "@kwagner:land.test", t0.Add(2*time.Hour)); err != nil || ok {
		t.Errorf("LiftHold of a lifted hold: got %t, %v; want false", ok, err)
	}
	if ok, err := st.LiftHold(ctx, ids[1]+100, "@kwagner:land.test", t0); err != nil || ok {
		t.Errorf("LiftHold of an unknown hold: got %t, %v; want false", ok, err)
	}
	if _, err := st.LiftHold(ctx, ids[1], "", t0); err == nil {
		t.Error("LiftHold by nobody: got no error")
	}
	got, err = st.ActiveHolds(ctx)
	if err != nil || !reflect.DeepEqual(got, []retention.Hold{person}) {
		t.Errorf("ActiveHolds after lifting: got %+v, %v; want the person hold only", got, err)
	}
	// The lifted hold is kept with who lifted it and when.
	var liftedBy string
	var liftedAt int64
	if err := st.DB().QueryRow(ctx, `SELECT lifted_by, lifted_at FROM legal_hold WHERE id = $1`, ids[0]).Scan(&liftedBy, &liftedAt); err != nil ||
		liftedBy != "@sweber:land.test" || liftedAt != t0.Add(time.Hour).UnixMilli() {
		t.Errorf("lifted hold: got %q at %d, %v; want the first lifting kept", liftedBy, liftedAt, err)
	}
}

func testDeletionLog(t *testing.T, st *Store) {
	ctx := context.Background()
	t0 := time.UnixMilli(1_795_000_000_000)
	const police = "max_lifetime=30d min_lifetime=1d"
	entries := []Deletion{
		{At: t0, RoomKey: "polizei/allgemein", RoomID: "!a:polizei.test", EventID: "$1", Sender: "@ewache:polizei.test", SentAt: t0.Add(-31 * 24 * time.Hour), Policy: police, Method: DeletionRedact},
		{At: t0.Add(time.Minute), RoomKey: "polizei/allgemein", RoomID: "!a:polizei.test", EventID: "$2", Sender: "@dpolizist:polizei.test", SentAt: t0.Add(-32 * 24 * time.Hour), Policy: police, Method: DeletionRedact},
		{At: t0.Add(time.Hour), RoomKey: "hkm/partner", RoomID: "!p:land.test", EventID: "$3", Sender: "@ewache:polizei.test", SentAt: t0.Add(-400 * 24 * time.Hour), Policy: "max_lifetime=365d", Method: DeletionPurge},
	}
	for i := range entries {
		entryID, err := st.LogDeletion(ctx, entries[i])
		if err != nil {
			t.Fatalf("LogDeletion(%s): %v", entries[i].EventID, err)
		}
		entries[i].ID = entryID
	}
	for _, bad := range []Deletion{
		{At: t0, RoomKey: "x/y", RoomID: "!x:y", EventID: "$4", Policy: police, Method: "delete"},
		{At: t0, RoomKey: "x/y", RoomID: "!x:y", Policy: police, Method: DeletionRedact},
	} {
		if _, err := st.LogDeletion(ctx, bad); err == nil {
			t.Errorf("LogDeletion(%+v): got no error", bad)
		}
	}

	tests := []struct {
		name string
		f    DeletionFilter
		want []Deletion
	}{
		{"all, oldest first", DeletionFilter{}, entries},
		{"one room", DeletionFilter{RoomKey: "polizei/allgemein"}, entries[:2]},
		{"one sender", DeletionFilter{Sender: "@ewache:polizei.test"}, []Deletion{entries[0], entries[2]}},
		{"since", DeletionFilter{Since: t0.Add(time.Minute)}, entries[1:]},
		{"until", DeletionFilter{Until: t0.Add(time.Minute)}, entries[:1]},
		{"newest two", DeletionFilter{Limit: 2}, entries[1:]},
		{"room and sender", DeletionFilter{RoomKey: "hkm/partner", Sender: "@dpolizist:polizei.test"}, nil},
	}
	for _, tc := range tests {
		got, err := st.DeletionLog(ctx, tc.f)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("DeletionLog %s: got %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
}

func testMarks(t *testing.T, st *Store) {
	ctx := context.Background()
	t0 := time.UnixMilli(1_795_000_000_000)
	room := id.RoomID("!akten:land.test")
	reply := Mark{Room: room, MarkEvent: "$r1", Target: "$m1", Case: "HMdIS-Z-12/2026", MarkedBy: "@a:land.test", Kind: records.MarkReply, MarkedAt: t0}
	react := Mark{Room: room, MarkEvent: "$r2", Target: "$m2", MarkedBy: "@b:land.test", Kind: records.MarkReaction, MarkedAt: t0.Add(time.Second)}
	for _, m := range []Mark{reply, react} {
		if isNew, err := st.AddMark(ctx, m); err != nil || !isNew {
			t.Fatalf("AddMark(%s): %v, %v; want new", m.MarkEvent, isNew, err)
		}
	}
	if isNew, err := st.AddMark(ctx, reply); err != nil || isNew {
		t.Errorf("AddMark again: %v, %v; want not new", isNew, err)
	}
	if _, err := st.AddMark(ctx, Mark{Room: room, MarkEvent: "$x", Target: "$m", MarkedBy: "@a:land.test", Kind: "wink"}); err == nil {
		t.Error("AddMark with a bad kind: no error")
	}
	if c, err := st.RoomCase(ctx, room); err != nil || c != reply.Case {
		t.Errorf("RoomCase: %q, %v; want %q", c, err, reply.Case)
	}
	if c, err := st.RoomCase(ctx, "!other:land.test"); err != nil || c != "" {
		t.Errorf("RoomCase of a room without marks: %q, %v; want none", c, err)
	}
	if err := st.MarkProblem(ctx, room, "$r2", "no case reference"); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkFiled(ctx, room, "$r1", 7); err != nil {
		t.Fatal(err)
	}
	pending, err := st.PendingMarks(ctx)
	if err != nil || len(pending) != 1 || pending[0].MarkEvent != "$r2" || pending[0].Problem != "no case reference" {
		t.Errorf("PendingMarks: %+v, %v; want only $r2 with its problem", pending, err)
	}
	m, err := st.Mark(ctx, room, "$r1")
	if err != nil || m == nil || m.FiledSeq != 7 || !m.MarkedAt.Equal(t0) {
		t.Errorf("Mark($r1): %+v, %v; want filed as 7", m, err)
	}
	if m, err := st.Mark(ctx, room, "$none"); err != nil || m != nil {
		t.Errorf("Mark($none): %+v, %v; want nil", m, err)
	}

	d := Deletion{At: t0, RoomKey: "hmdis/akten", RoomID: room, EventID: "$gone", Sender: "@a:land.test", SentAt: t0, Policy: "max_lifetime=30d", Method: DeletionRedact}
	first, err := st.LogDeletion(ctx, d)
	if err != nil || first == 0 {
		t.Fatalf("LogDeletion: %d, %v", first, err)
	}
	if again, err := st.LogDeletion(ctx, d); err != nil || again != 0 {
		t.Errorf("LogDeletion of the same event again: %d, %v; want 0 and no error", again, err)
	}
	if del, err := st.DeletedEvents(ctx, room); err != nil || len(del) != 1 || !del["$gone"] {
		t.Errorf("DeletedEvents: %v, %v; want $gone", del, err)
	}
}
