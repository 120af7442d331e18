package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mau.fi/util/dbutil"

	"github.com/landesmessenger/landesmessenger/records"
	"github.com/landesmessenger/landesmessenger/records/recordstest"
)

// TestArchive runs the records archive on both backends.
func TestArchive(t *testing.T) {
	suite := []struct {
		name string
		run  func(t *testing.T, b backend)
	}{
		{"Filing", testArchiveFiling},
		{"ConcurrentFilingKeepsTheChainLinear", testArchiveConcurrent},
		{"AppendOnly", testArchiveAppendOnly},
		{"Tampering", testArchiveTampering},
	}
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			b.require(t)
			for _, tc := range suite {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, b) })
			}
		})
	}
}

const (
	caseZ12 records.CaseRef = "HMdIS-Z-12/2026"
	caseZ7  records.CaseRef = "HMdIS-Z-7/2026"
)

var archiveStart = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

// fileMessages files recordstest.Message(n, c) for each n and returns the
// entries filed.
func fileMessages(t *testing.T, a *records.Archive, c records.CaseRef, ns ...int) []records.Entry {
	t.Helper()
	var out []records.Entry
	for _, n := range ns {
		e, isNew, err := a.File(context.Background(), recordstest.Message(n, c))
		if err != nil || !isNew {
			t.Fatalf("File(message %d, %s): got new=%v, %v; want a new entry", n, c, isNew, err)
		}
		out = append(out, e)
	}
	return out
}

func testArchiveFiling(t *testing.T, b backend) {
	ctx := context.Background()
	st := openStore(t, b.newURI(t))
	a := records.New(st, records.Options{Now: recordstest.Clock(archiveStart)})

	if h, err := st.RecordHead(ctx); err != nil || h != (records.Head{Seq: 0, Hash: records.Genesis}) {
		t.Fatalf("RecordHead of the empty archive: got %v, %v; want 0:genesis", h, err)
	}
	filed := fileMessages(t, a, caseZ12, 0, 1, 2)
	prev := records.Genesis
	for i, e := range filed {
		if e.Seq != int64(i+1) || e.PrevHash != prev || e.Hash != e.ComputeHash() || !e.FiledAt.Equal(archiveStart.Add(time.Duration(i)*time.Minute)) {
			t.Errorf("entry %d: got seq %d, prev %s, hash %s, filed %v; want seq %d after %s, filed %v",
				i, e.Seq, e.PrevHash, e.Hash, e.FiledAt, i+1, prev, archiveStart.Add(time.Duration(i)*time.Minute))
		}
		prev = e.Hash
	}
	if h, err := st.RecordHead(ctx); err != nil || h != (records.Head{Seq: 3, Hash: filed[2].Hash}) {
		t.Errorf("RecordHead: got %v, %v; want 3:%s", h, err, filed[2].Hash)
	}

	// The same message for the same case again: the first entry, nothing added.
	again, isNew, err := a.File(ctx, recordstest.Message(1, caseZ12))
	if err != nil || isNew || again.Seq != 2 || again.Hash != filed[1].Hash {
		t.Errorf("filing message 1 again: got seq %d new=%v, %v; want entry 2, not new", again.Seq, isNew, err)
	}
	// The same message for another case is a new entry.
	other := fileMessages(t, a, caseZ7, 1)
	if other[0].Seq != 4 {
		t.Errorf("message 1 for %s: got seq %d, want 4", caseZ7, other[0].Seq)
	}

	// Read back: the whole entry round-trips, attachments without data.
	all, err := st.Records(ctx, records.Query{})
	if err != nil || len(all) != 4 {
		t.Fatalf("Records(all): got %d entries, %v; want 4", len(all), err)
	}
	want := filed[2]
	want.Attachments = []records.Attachment{want.Attachments[0]}
	want.Attachments[0].Data = nil
	if got := all[2]; !entriesEqual(got, want) {
		t.Errorf("Records()[2]: got %+v, want %+v", got, want)
	}
	data, err := st.RecordAttachment(ctx, 3, 0)
	if err != nil || string(data) != "Anlage zu Vermerk 2\n" {
		t.Errorf("RecordAttachment(3, 0): got %q, %v", data, err)
	}
	if _, err := st.RecordAttachment(ctx, 3, 1); !errors.Is(err, ErrNoAttachment) {
		t.Errorf("RecordAttachment(3, 1): got %v, want ErrNoAttachment", err)
	}

	for _, tc := range []struct {
		name string
		q    records.Query
		want []int64
	}{
		{"case", records.Query{Case: caseZ7}, []int64{4}},
		{"room ID", records.Query{RoomID: "!hmdis-allgemein:land.test"}, []int64{1, 2, 3, 4}},
		{"room key and case", records.Query{RoomKey: "hmdis/allgemein", Case: caseZ12}, []int64{1, 2, 3}},
		{"other room", records.Query{RoomKey: "hmdis/unit-z"}, nil},
		{"after and limit", records.Query{After: 1, Limit: 2}, []int64{2, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := st.Records(ctx, tc.q)
			var seqs []int64
			for _, e := range got {
				seqs = append(seqs, e.Seq)
			}
			if err != nil || fmt.Sprint(seqs) != fmt.Sprint(tc.want) {
				t.Errorf("Records(%+v): got %v, %v; want %v", tc.q, seqs, err, tc.want)
			}
		})
	}

	res, err := records.Verify(ctx, st)
	if err != nil || res.Break != nil || res.Entries != 4 || res.Head.Seq != 4 {
		t.Errorf("Verify: got %+v, %v; want 4 intact entries", res, err)
	}
}

// entriesEqual compares entries, times by instant.
func entriesEqual(a, b records.Entry) bool {
	if !a.FiledAt.Equal(b.FiledAt) || !a.SentAt.Equal(b.SentAt) {
		return false
	}
	a.FiledAt, a.SentAt, b.FiledAt, b.SentAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return fmt.Sprintf("%#v", a) == fmt.Sprintf("%#v", b)
}

// testArchiveConcurrent files from many goroutines at once, some of them
// the same messages: every message is filed once and the chain is linear.
func testArchiveConcurrent(t *testing.T, b backend) {
	ctx := context.Background()
	st := openStore(t, b.newURI(t))
	a := records.New(st, records.Options{Now: recordstest.Clock(archiveStart)})
	const workers, perWorker = 8, 6
	var wg sync.WaitGroup
	var mu sync.Mutex
	newOnes := map[int64]bool{}
	errs := make(chan error, workers*perWorker)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				// Workers 2k and 2k+1 file the same messages.
				n := (w/2)*perWorker + i
				e, isNew, err := a.File(ctx, recordstest.Message(n, caseZ12))
				if err != nil {
					errs <- err
					continue
				}
				mu.Lock()
				if isNew {
					if newOnes[e.Seq] {
						errs <- fmt.Errorf("entry %d filed as new twice", e.Seq)
					}
					newOnes[e.Seq] = true
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	const unique = workers / 2 * perWorker
	if len(newOnes) != unique {
		t.Errorf("new entries: got %d, want %d", len(newOnes), unique)
	}
	res, err := records.Verify(ctx, st)
	if err != nil || res.Break != nil || res.Entries != unique || res.Head.Seq != unique {
		t.Errorf("Verify after concurrent filing: got %+v (break %v), %v; want %d intact entries", res, res.Break, err, unique)
	}
}

func testArchiveAppendOnly(t *testing.T, b backend) {
	ctx := context.Background()
	st := openStore(t, b.newURI(t))
	fileMessages(t, records.New(st, records.Options{}), caseZ12, 1, 2)
	for _, q := range []string{
		"UPDATE archive_entry SET body = 'x' WHERE seq = 1",
		"DELETE FROM archive_entry WHERE seq = 1",
		"UPDATE archive_attachment SET data = $1 WHERE seq = 2",
		"DELETE FROM archive_attachment WHERE seq = 2",
	} {
		var args []any
		if strings.Contains(q, "$1") {
			args = append(args, []byte("x"))
		}
		if _, err := st.DB().Exec(ctx, q, args...); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: got %v, want refused as append-only", q, err)
		}
	}
}

// dropAppendOnly removes the triggers that keep the archive append-only, as
// whoever controls the database can.
func dropAppendOnly(t *testing.T, st *Store) {
	t.Helper()
	q := `DROP TRIGGER archive_entry_no_update; DROP TRIGGER archive_entry_no_delete;
		DROP TRIGGER archive_attachment_no_update; DROP TRIGGER archive_attachment_no_delete`
	if st.Dialect() == dbutil.Postgres {
		q = `DROP TRIGGER archive_entry_append_only ON archive_entry; DROP TRIGGER archive_attachment_append_only ON archive_attachment`
	}
	if _, err := st.DB().Exec(context.Background(), q); err != nil {
		t.Fatal(err)
	}
}

// sqlStep is a statement that tampers with the archive.
type sqlStep struct {
	q    string
	args []any
}

// testArchiveTampering changes the database behind the archive's back in
// every way and checks that Verify names the first broken entry.
func testArchiveTampering(t *testing.T, b backend) {
	forged := []byte("forged")
	forgedHash := fmt.Sprintf("%x", sha256.Sum256(forged))
	for _, tc := range []struct {
		name    string
		tamper  func(filed []records.Entry) []sqlStep
		seq     int64
		problem records.Problem
	}{
		{"body updated", steps("UPDATE archive_entry SET body = 'Vermerk 1: erledigt.' WHERE seq = 2"), 2, records.ProblemHash},
		{"case moved", steps("UPDATE archive_entry SET case_ref = 'HMdIS-Z-7/2026' WHERE seq = 3"), 3, records.ProblemHash},
		{"row deleted", steps("DELETE FROM archive_entry WHERE seq = 2"), 2, records.ProblemMissing},
		{"first row deleted", steps("DELETE FROM archive_entry WHERE seq = 1"), 1, records.ProblemMissing},
		{"last row deleted", steps("DELETE FROM archive_attachment WHERE seq = 4", "DELETE FROM archive_entry WHERE seq = 4"), 4, records.ProblemMissing},
		{"last row deleted and head moved back", steps("DELETE FROM archive_entry WHERE seq = 4", "UPDATE archive_head SET seq = 3"), 3, records.ProblemHead},
		{"attachment data changed", func([]records.Entry) []sqlStep {
			return []sqlStep{{"UPDATE archive_attachment SET data = $1 WHERE seq = 3", []any{forged}}}
		}, 3, records.ProblemAttachment},
		{"attachment data and hash changed", func([]records.Entry) []sqlStep {
			return []sqlStep{{"UPDATE archive_attachment SET data = $1, sha256 = $2, size = $3 WHERE seq = 3", []any{forged, forgedHash, len(forged)}}}
		}, 3, records.ProblemHash},
		{"attachment removed", steps("DELETE FROM archive_attachment WHERE seq = 3"), 3, records.ProblemHash},
		{"entry rewritten and rehashed", func(filed []records.Entry) []sqlStep {
			e := filed[0]
			e.Body = "Vermerk 0: nie gesagt."
			return []sqlStep{{"UPDATE archive_entry SET body = $1, hash = $2 WHERE seq = 1", []any{e.Body, e.ComputeHash()}}}
		}, 2, records.ProblemPrevHash},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st := openStore(t, b.newURI(t))
			filed := fileMessages(t, records.New(st, records.Options{Now: recordstest.Clock(archiveStart)}), caseZ12, 0, 1, 2, 3)
			if res, err := records.Verify(ctx, st); err != nil || res.Break != nil {
				t.Fatalf("Verify before tampering: got %+v, %v", res, err)
			}
			dropAppendOnly(t, st)
			for _, s := range tc.tamper(filed) {
				if _, err := st.DB().Exec(ctx, s.q, s.args...); err != nil {
					t.Fatalf("%s: %v", s.q, err)
				}
			}
			res, err := records.Verify(ctx, st)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if res.Break == nil || res.Break.Seq != tc.seq || res.Break.Problem != tc.problem {
				t.Fatalf("Verify after %s: got break %v, want entry %d: %s", tc.name, res.Break, tc.seq, tc.problem)
			}
			if want := tc.seq - 1; tc.problem != records.ProblemHead && res.Entries != want {
				t.Errorf("Verify: got %d intact entries before the break, want %d", res.Entries, want)
			}
			t.Logf("%s: %v", tc.name, res.Break)
		})
	}
}

// steps tampers with the statements qs, which take no arguments.
func steps(qs ...string) func([]records.Entry) []sqlStep {
	return func([]records.Entry) []sqlStep {
		out := make([]sqlStep, len(qs))
		for i, q := range qs {
			out[i] = sqlStep{q: q}
		}
		return out
	}
}
