package records_test

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/landesmessenger/landesmessenger/records"
	"github.com/landesmessenger/landesmessenger/store"
)

// A member reacted with 📁 to a message, marking it for a case; the archive
// bot files it, a second time by mistake. Verify then checks the chain.
func Example() {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite::memory:", zerolog.Nop())
	if err != nil {
		panic(err)
	}
	defer st.Close()
	archive := records.New(st, records.Options{})

	caseRef, err := records.ParseCaseRef("HMdIS-Z-12/2026")
	if err != nil {
		panic(err)
	}
	msg := records.Entry{
		Case:       caseRef,
		RoomKey:    "hmdis/allgemein",
		RoomID:     "!hmdis-allgemein:land.test",
		RoomName:   "HMdIS Allgemein",
		EventID:    "$vermerk",
		Sender:     "@mmustermann:land.test",
		SenderName: "Max Mustermann (HMdIS)",
		SentAt:     time.Date(2026, 11, 20, 8, 15, 0, 0, time.UTC),
		MsgType:    "m.text",
		Body:       "Bitte bis Freitag prüfen.",
		FiledBy:    "@eschmidt:land.test",
		MarkKind:   records.MarkReaction,
		MarkEvent:  "$folder-reaction",
	}
	for range 2 {
		e, isNew, err := archive.File(ctx, msg)
		if err != nil {
			panic(err)
		}
		fmt.Printf("entry %d, new: %v\n", e.Seq, isNew)
	}
	res, err := records.Verify(ctx, st)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d entries, broken: %v\n", res.Entries, res.Break != nil)
	// Output:
	// entry 1, new: true
	// entry 1, new: false
	// 1 entries, broken: false
}
