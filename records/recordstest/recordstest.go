// Package recordstest provides messages and a clock for tests of the
// records archive.
package recordstest

import (
	"fmt"
	"sync"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/records"
)

// SentAt is the time of Message(0); message n was sent n minutes later.
var SentAt = time.Date(2026, 11, 20, 8, 15, 0, 123_000_000, time.UTC)

// Message returns a valid text message for the case c: event $msgN in the
// room !hmdis-allgemein:land.test (key hmdis/allgemein), sent by
// @mmustermann:land.test and marked by a 📁 reaction of
// @eschmidt:land.test. Every third message (n = 2, 5, …) carries an
// attachment.
func Message(n int, c records.CaseRef) records.Entry {
	e := records.Entry{
		Case:       c,
		RoomKey:    "hmdis/allgemein",
		RoomID:     "!hmdis-allgemein:land.test",
		RoomName:   "HMdIS Allgemein",
		EventID:    id.EventID(fmt.Sprintf("$msg%d", n)),
		Sender:     "@mmustermann:land.test",
		SenderName: "Max Mustermann (HMdIS)",
		SentAt:     SentAt.Add(time.Duration(n) * time.Minute),
		MsgType:    "m.text",
		Body:       fmt.Sprintf("Vermerk %d: Bitte bis Freitag prüfen.", n),
		FiledBy:    "@eschmidt:land.test",
		MarkKind:   records.MarkReaction,
		MarkEvent:  id.EventID(fmt.Sprintf("$mark%d", n)),
	}
	if n%3 == 2 {
		e.Attachments = []records.Attachment{{Name: fmt.Sprintf("anlage-%d.txt", n), MIMEType: "text/plain", Data: []byte(fmt.Sprintf("Anlage zu Vermerk %d\n", n))}}
	}
	return e
}

// Clock returns a clock that starts at start and moves on by a minute with
// every call. It is safe for concurrent use.
func Clock(start time.Time) func() time.Time {
	var mu sync.Mutex
	next := start
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t := next
		next = next.Add(time.Minute)
		return t
	}
}
