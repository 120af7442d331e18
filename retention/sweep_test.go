package retention

import (
	"reflect"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"
)

func ids(events []Event) []id.EventID {
	var out []id.EventID
	for _, e := range events {
		out = append(out, e.ID)
	}
	return out
}

func TestPlan(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	old, young := now.Add(-40*day), now.Add(-time.Hour)
	msg := func(eid, sender string, at time.Time) Event {
		return Event{ID: id.EventID(eid), Type: "m.room.encrypted", Sender: id.UserID(sender), SentAt: at}
	}
	state := Event{ID: "$state", Type: "m.room.member", State: true, SentAt: old}
	held := Hold{Scope: ScopePerson, Target: "@held:x", Reason: "Az", SetBy: "@a:x", SetAt: old}
	marked := msg("$marked", "@a:x", old)
	marked.Marked = true
	redactedByUs := Event{ID: "$r-us", Type: "m.room.encrypted", Redacted: true, RedactedBy: "@svc:x", SentAt: old}
	redactedLogged := Event{ID: "$r-logged", Type: "m.room.encrypted", Redacted: true, RedactedBy: "@svc:x", SentAt: old}
	redactedByUser := Event{ID: "$r-user", Type: "m.room.encrypted", Redacted: true, RedactedBy: "@a:x", SentAt: old}
	p := Policy{Max: 30 * day}

	timeline := []Event{state, msg("$1", "@a:x", old), redactedByUs, msg("$2", "@b:x", old), marked, msg("$3", "@a:x", old),
		msg("$h", "@held:x", old), redactedLogged, redactedByUser, msg("$y", "@a:x", young), msg("$last", "@a:x", old)}
	logged := map[id.EventID]bool{"$r-logged": true}

	for _, tc := range []struct {
		name        string
		purge       bool
		holds       []Hold
		wantUpTo    id.EventID
		wantPurged  []id.EventID
		wantRedact  []id.EventID
		wantKeptFor map[Reason]int
	}{
		{name: "redact only", wantRedact: []id.EventID{"$1", "$2", "$3", "$h", "$last"},
			wantKeptFor: map[Reason]int{ReasonMarked: 1, ReasonNotExpired: 1}},
		{name: "purge up to the first kept", purge: true, wantUpTo: "$marked", wantPurged: []id.EventID{"$1", "$2"},
			wantRedact: []id.EventID{"$3", "$h", "$last"}, wantKeptFor: map[Reason]int{ReasonMarked: 1, ReasonNotExpired: 1}},
		{name: "person hold", holds: []Hold{held}, wantRedact: []id.EventID{"$1", "$2", "$3", "$last"},
			wantKeptFor: map[Reason]int{ReasonMarked: 1, ReasonNotExpired: 1, ReasonPersonHold: 1}},
		{name: "room hold keeps all", holds: []Hold{{Scope: ScopeRoom, Target: "r", Reason: "Az", SetBy: "@a:x", SetAt: old}},
			wantKeptFor: map[Reason]int{ReasonRoomHold: 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Plan(timeline, "r", p, tc.holds, now, tc.purge, logged, "@svc:x")
			if got.PurgeUpTo != tc.wantUpTo || !reflect.DeepEqual(ids(got.Purged), tc.wantPurged) || !reflect.DeepEqual(ids(got.Redact), tc.wantRedact) {
				t.Errorf("got purge up to %q %v, redact %v; want %q %v, %v", got.PurgeUpTo, ids(got.Purged), ids(got.Redact), tc.wantUpTo, tc.wantPurged, tc.wantRedact)
			}
			if !reflect.DeepEqual(got.Kept, tc.wantKeptFor) {
				t.Errorf("kept %v, want %v", got.Kept, tc.wantKeptFor)
			}
			if !reflect.DeepEqual(ids(got.Unlogged), []id.EventID{"$r-us"}) {
				t.Errorf("unlogged %v, want only $r-us", ids(got.Unlogged))
			}
		})
	}

	// All deletable: the purge stops before the newest event, which is
	// redacted.
	all := []Event{msg("$a", "@a:x", old), state, msg("$b", "@a:x", old)}
	got := Plan(all, "r", p, nil, now, true, nil, "@svc:x")
	if got.PurgeUpTo != "$b" || !reflect.DeepEqual(ids(got.Purged), []id.EventID{"$a"}) || !reflect.DeepEqual(ids(got.Redact), []id.EventID{"$b"}) {
		t.Errorf("all deletable: got purge up to %q %v, redact %v", got.PurgeUpTo, ids(got.Purged), ids(got.Redact))
	}
	// No maximum: nothing goes.
	if got := Plan(all, "r", Policy{}, nil, now, true, nil, "@svc:x"); len(got.Purged)+len(got.Redact) != 0 || got.Kept[ReasonNoMaxLifetime] != 2 {
		t.Errorf("no policy: got %+v, want everything kept", got)
	}
	// A single event is never purged.
	if got := Plan(all[:1], "r", p, nil, now, true, nil, "@svc:x"); got.PurgeUpTo != "" || len(got.Redact) != 1 {
		t.Errorf("one event: got %+v, want it redacted", got)
	}
}

// TestPlanMinLifetime: a message within the minimum lifetime is kept even
// past a (shorter) maximum, and does not end the purge run early if it is
// the room's newest event.
func TestPlanMinLifetime(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	p := Policy{Max: 2 * day, Min: 7 * day}
	timeline := []Event{
		{ID: "$a", Type: "m.room.message", Sender: "@a:x", SentAt: now.Add(-10 * day)},
		{ID: "$b", Type: "m.room.message", Sender: "@a:x", SentAt: now.Add(-5 * day)},
		{ID: "$c", Type: "m.room.message", Sender: "@a:x", SentAt: now.Add(-8 * day)},
	}
	got := Plan(timeline, "r", p, nil, now, true, nil, "@svc:x")
	if got.PurgeUpTo != "$b" || !reflect.DeepEqual(ids(got.Purged), []id.EventID{"$a"}) || !reflect.DeepEqual(ids(got.Redact), []id.EventID{"$c"}) || got.Kept[ReasonMinLifetime] != 1 {
		t.Errorf("got purge up to %q %v, redact %v, kept %v", got.PurgeUpTo, ids(got.Purged), ids(got.Redact), got.Kept)
	}
}

func TestPlanNextDue(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	p := Policy{Max: 30 * day}
	young := Event{ID: "$y", Type: "m.room.message", Sender: "@a:x", SentAt: now.Add(-10 * day)}
	younger := Event{ID: "$z", Type: "m.room.message", Sender: "@a:x", SentAt: now.Add(-time.Hour)}
	old := Event{ID: "$o", Type: "m.room.message", Sender: "@a:x", SentAt: now.Add(-40 * day)}
	if got := Plan([]Event{old, young, younger}, "r", p, nil, now, false, nil, "@svc:x").NextDue; !got.Equal(young.SentAt.Add(30 * day)) {
		t.Errorf("next due %s, want when the oldest young message expires", got)
	}
	if got := Plan([]Event{old}, "r", p, nil, now, false, nil, "@svc:x").NextDue; !got.IsZero() {
		t.Errorf("nothing kept: next due %s, want zero", got)
	}
	hold := Hold{Scope: ScopeRoom, Target: "r", Reason: "Az", SetBy: "@a:x", SetAt: now.Add(-50 * day)}
	if got := Plan([]Event{old, young}, "r", p, []Hold{hold}, now, false, nil, "@svc:x").NextDue; !got.Equal(now) {
		t.Errorf("held: next due %s, want now", got)
	}
}
