package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/records"
)

// TestFinding17AuditAppendOnly is issue 14, finding 17: the audit trail
// refuses updates and deletions, and its hash chain shows a change made by
// someone who dropped the triggers: an entry changed, removed in the
// middle, or removed at the end.
func TestFinding17AuditAppendOnly(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			b.require(t)
			ctx := context.Background()
			st := openStore(t, b.newURI(t))
			db := st.DB()
			for i, cmd := range []string{"user show", "hold add", "user disable"} {
				if _, err := st.AppendAudit(ctx, AuditEntry{At: time.UnixMilli(int64(1_795_000_000_000 + i)), Sender: "@admin:land.test",
					Command: cmd, Input: "!" + cmd, Decision: "done", Ref: int64(i)}); err != nil {
					t.Fatal(err)
				}
			}
			v, err := st.VerifyAudit(ctx)
			if err != nil || v.Break != nil || v.Entries != 3 || len(v.Head) != 64 {
				t.Fatalf("intact trail: %+v, %v", v, err)
			}
			for _, q := range []string{`UPDATE audit_log SET decision = 'refused' WHERE id = 2`, `DELETE FROM audit_log WHERE id = 3`} {
				if _, err := db.Exec(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
					t.Errorf("%s: %v, want refused as append-only", q, err)
				}
			}
			if b.name == "postgres" {
				if _, err := db.Exec(ctx, `TRUNCATE audit_log`); err == nil {
					t.Error("TRUNCATE audit_log succeeded")
				}
			}
			// An attacker with control of the database drops the triggers.
			drop := []string{`DROP TRIGGER audit_log_no_update`, `DROP TRIGGER audit_log_no_delete`}
			if db.Dialect == dbutil.Postgres {
				drop = []string{`DROP TRIGGER audit_log_append_only ON audit_log`}
			}
			for _, q := range drop {
				if _, err := db.Exec(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			tamper := func(q, want string) {
				t.Helper()
				if _, err := db.Exec(ctx, q); err != nil {
					t.Fatal(err)
				}
				v, err := st.VerifyAudit(ctx)
				if err != nil || v.Break == nil || !strings.Contains(v.Break.Error(), want) {
					t.Errorf("after %s: %+v, %v; want a break with %q", q, v, err, want)
				}
			}
			tamper(`UPDATE audit_log SET decision = 'refused' WHERE id = 2`, "entry 2 was changed")
			// Restored, the chain holds again.
			if _, err := db.Exec(ctx, `UPDATE audit_log SET decision = 'done' WHERE id = 2`); err != nil {
				t.Fatal(err)
			}
			if v, _ := st.VerifyAudit(ctx); v.Break != nil {
				t.Fatalf("restored trail: %v", v.Break)
			}
			tamper(`DELETE FROM audit_log WHERE id = 3`, "entries at the end were removed")
			tamper(`DELETE FROM audit_log WHERE id = 1`, "entry 2 does not follow")
		})
	}
}

// TestFinding14UnfiledMarksExpire is issue 14, finding 14 in the store: a
// mark that is not filed keeps its message for records.unfiled_after only
// (a controlled clock), is reported once, and an admin can clear it; a
// cleared mark is no longer pending and keeps nothing.
func TestFinding14UnfiledMarksExpire(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, backends()[0].newURI(t))
	t0 := time.UnixMilli(1_795_000_000_000)
	room := id.RoomID("!akten:land.test")
	m := Mark{Room: room, MarkEvent: "$mark", Target: "$msg", MarkedBy: "@a:land.test", Kind: records.MarkReaction, MarkedAt: t0}
	if _, err := st.AddMark(ctx, m); err != nil {
		t.Fatal(err)
	}
	const after = 30 * 24 * time.Hour
	got, err := st.Mark(ctx, room, "$mark")
	if err != nil || got == nil {
		t.Fatal(err)
	}
	if !got.Keeps(t0.Add(after-time.Minute), after) || got.Keeps(t0.Add(after), after) {
		t.Errorf("Keeps: want true just before %s and false from then on", after)
	}
	for i, want := range []bool{true, false} {
		if first, err := st.MarkReported(ctx, room, "$mark", t0.Add(after)); err != nil || first != want {
			t.Errorf("MarkReported #%d: %v, %v; want %v", i+1, first, err, want)
		}
	}
	if ok, err := st.ClearMark(ctx, room, "$mark", "@admin:land.test", t0.Add(after+time.Hour)); err != nil || !ok {
		t.Fatalf("ClearMark: %v, %v", ok, err)
	}
	if ok, _ := st.ClearMark(ctx, room, "$mark", "@admin:land.test", t0); ok {
		t.Error("ClearMark of a cleared mark: true")
	}
	got, _ = st.Mark(ctx, room, "$mark")
	if got.Pending() || got.Keeps(t0, after) || got.ClearedBy != "@admin:land.test" || got.ReportedAt.IsZero() {
		t.Errorf("cleared mark: %+v", got)
	}
	if pending, err := st.PendingMarks(ctx); err != nil || len(pending) != 0 {
		t.Errorf("pending after clearing: %+v, %v", pending, err)
	}
}
