package retention

import (
	"time"

	"maunium.net/go/mautrix/id"
)

// Event is what a sweep knows of an event of a room's timeline.
type Event struct {
	ID     id.EventID
	Type   string
	Sender id.UserID
	SentAt time.Time
	// State is set for state events, which retention never deletes.
	State bool
	// Redacted is set for an event whose content is gone already;
	// RedactedBy is who redacted it.
	Redacted   bool
	RedactedBy id.UserID
	// Marked is set while the message is marked for filing and not filed,
	// or may be (a reply or reaction to it the sweep cannot read).
	Marked bool
	// Media are the media files the message refers to, as far as they
	// are known (an encrypted message's only once decrypted).
	Media []id.ContentURIString
}

// IsMessage reports whether e is subject to retention: any event that is
// not a state event, not a redaction, and not redacted already.
func (e Event) IsMessage() bool {
	return !e.State && !e.Redacted && e.Type != "m.room.redaction"
}

// SweepPlan says what a sweep of one room deletes and keeps.
type SweepPlan struct {
	// PurgeUpTo, if set, is the event before which every event is purged
	// (Synapse's purge history, which keeps upTo itself); Purged are the
	// messages that deletes, oldest first.
	PurgeUpTo id.EventID
	Purged    []Event
	// Redact are the messages to redact, oldest first.
	Redact []Event
	// Unlogged are messages that redactor redacted before but that the
	// deletion log does not hold yet (a crash after redacting): they are
	// logged without being deleted again.
	Unlogged []Event
	// Kept counts the messages kept by reason.
	Kept map[Reason]int
	// NextDue is the earliest time a message kept now may become
	// deletable without anything else changing: the time the oldest
	// message kept for its age expires. It is now for messages kept by a
	// hold or a mark (which may end any time), and zero when no message
	// was kept for any of these reasons (nothing is due until a new
	// message expires).
	NextDue time.Time
}

// Plan decides the sweep of a room's timeline (oldest first) at now: which
// messages are deleted under the room's policy p and the holds, and how.
// room is the room's key; logged tells the events in the deletion log;
// redactor is the account that redacts for retention. With purge (the
// homeserver can purge history), the longest run of deletable messages from
// the room's start (state events and redacted events in between do not
// break it) is purged up to the first event kept, and the rest of the
// deletable messages are redacted. The newest event of a room is never
// purged (the homeserver keeps it): if it is deletable it is redacted.
func Plan(timeline []Event, room string, p Policy, holds []Hold, now time.Time, purge bool, logged map[id.EventID]bool, redactor id.UserID) SweepPlan {
	plan := SweepPlan{Kept: map[Reason]int{}}
	deletable := make([]bool, len(timeline))
	for i, e := range timeline {
		if e.Redacted {
			if e.RedactedBy == redactor && !logged[e.ID] && !e.State && e.Type != "m.room.redaction" {
				plan.Unlogged = append(plan.Unlogged, e)
			}
			continue
		}
		if !e.IsMessage() {
			continue
		}
		ok, why := Deletable(Message{Room: room, Sender: e.Sender, SentAt: e.SentAt, Marked: e.Marked}, p, holds, now)
		if !ok {
			plan.Kept[why]++
			due := now
			switch why {
			case ReasonNoMaxLifetime:
				continue
			case ReasonNotExpired, ReasonMinLifetime:
				due = e.SentAt.Add(max(p.Max, p.Min))
			}
			if plan.NextDue.IsZero() || due.Before(plan.NextDue) {
				plan.NextDue = due
			}
			continue
		}
		deletable[i] = true
	}
	start := 0
	if purge && len(timeline) > 1 {
		cut := len(timeline) - 1 // the newest event is never purged
		for i := 0; i < len(timeline)-1; i++ {
			if timeline[i].IsMessage() && !deletable[i] {
				cut = i
				break
			}
		}
		for i := 0; i < cut; i++ {
			if deletable[i] {
				plan.Purged = append(plan.Purged, timeline[i])
			}
		}
		if len(plan.Purged) > 0 {
			plan.PurgeUpTo = timeline[cut].ID
			start = cut
		}
	}
	for i := start; i < len(timeline); i++ {
		if deletable[i] {
			plan.Redact = append(plan.Redact, timeline[i])
		}
	}
	return plan
}
