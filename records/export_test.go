package records_test

import (
	"context"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/landesmessenger/landesmessenger/records"
	"github.com/landesmessenger/landesmessenger/records/recordstest"
	"github.com/landesmessenger/landesmessenger/store"
)

var update = flag.Bool("update", false, "rewrite the golden exports in testdata")

const (
	caseZ12 records.CaseRef = "HMdIS-Z-12/2026"
	caseZ7  records.CaseRef = "HMdIS-Z-7/2026"
)

var (
	filedFrom  = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	exportedAt = time.Date(2026, 11, 27, 10, 30, 0, 0, time.UTC)
)

// archiveWithMessages returns an SQLite archive with four entries: two
// messages of the case HMdIS-Z-12/2026 in hmdis/allgemein (the second with
// markup in its text, a formatted body and an attachment, marked by a
// reply), one of HMdIS-Z-7/2026 there, and one of HMdIS-Z-12/2026 in
// hmdis/unit-z.
func archiveWithMessages(t *testing.T) *store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "lm.db"), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a := records.New(st, records.Options{Now: recordstest.Clock(filedFrom)})

	second := recordstest.Message(1, caseZ12)
	second.Body = `Entwurf anbei. <script>alert("Akte")</script> & "Co."`
	second.FormattedBody = `Entwurf <b>anbei</b>. <img src=x onerror=alert(1)>`
	second.MarkKind, second.FiledBy = records.MarkReply, "@kwagner:land.test"
	second.Attachments = []records.Attachment{{Name: "Bericht Q3/2026 <final>.pdf", MIMEType: "application/pdf", Data: []byte("%PDF-1.4\n% Bericht\n")}}
	other := recordstest.Message(4, caseZ12)
	other.RoomKey, other.RoomID, other.RoomName = "hmdis/unit-z", "!hmdis-unit-z:land.test", "HMdIS Referat Z"
	for _, e := range []records.Entry{recordstest.Message(0, caseZ12), second, recordstest.Message(3, caseZ7), other} {
		if _, _, err := a.File(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// TestExport compares each export with its golden folder in testdata.
func TestExport(t *testing.T) {
	for _, tc := range []struct {
		golden string
		opts   records.ExportOptions
		files  int
	}{
		{"export-case-HMdIS-Z-12-2026", records.ExportOptions{Case: caseZ12}, 3},
		{"export-room-hmdis-allgemein-two-cases", records.ExportOptions{Room: "hmdis/allgemein"}, 4},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			st := archiveWithMessages(t)
			dir := t.TempDir()
			tc.opts.Dir, tc.opts.Now = dir, exportedAt
			res, err := records.Export(context.Background(), st, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.Verify.Break != nil || res.Entries != 3 || len(res.Files) != tc.files {
				t.Errorf("Export: got %d entries, files %v, break %v; want 3 entries, %d files, an intact chain", res.Entries, res.Files, res.Verify.Break, tc.files)
			}
			compareGolden(t, dir, filepath.Join("testdata", tc.golden))
		})
	}
}

func TestExportRoomByID(t *testing.T) {
	st := archiveWithMessages(t)
	res, err := records.Export(context.Background(), st, records.ExportOptions{Room: "!hmdis-unit-z:land.test", Dir: t.TempDir(), Now: exportedAt})
	if err != nil || res.Entries != 1 || !slices.Equal(res.Files, []string{records.JSONLinesFile, "HMdIS-Z-12_2026.html"}) {
		t.Errorf("Export of a room by ID: got %+v, %v; want its one entry", res, err)
	}
	if _, err := records.Export(context.Background(), st, records.ExportOptions{Case: caseZ12, Room: "hmdis/allgemein", Dir: t.TempDir()}); err == nil {
		t.Error("Export with both a case and a room succeeded")
	}
}

// TestExportOfABrokenChain exports all the same and says so in the HTML;
// no text of a message is ever markup in it.
func TestExportOfABrokenChain(t *testing.T) {
	ctx := context.Background()
	st := archiveWithMessages(t)
	for _, q := range []string{"DROP TRIGGER archive_entry_no_update", "UPDATE archive_entry SET body = '<i>geändert</i>' WHERE seq = 2"} {
		if _, err := st.DB().Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	res, err := records.Export(ctx, st, records.ExportOptions{Case: caseZ12, Dir: dir, Now: exportedAt})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verify.Break == nil || res.Verify.Break.Seq != 2 || res.Entries != 3 {
		t.Fatalf("Export: got break %v, %d entries; want entry 2 broken, 3 entries exported", res.Verify.Break, res.Entries)
	}
	html, err := os.ReadFile(filepath.Join(dir, "HMdIS-Z-12_2026.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"nein (no): entry 2: hash mismatch", "&lt;i&gt;geändert&lt;/i&gt;"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	for _, raw := range []string{"<i>", "<script", "<img", "<b>"} {
		if strings.Contains(string(html), raw) {
			t.Errorf("HTML contains the raw markup %q of a message", raw)
		}
	}
}

// compareGolden compares the folder got with the golden folder want, file
// by file; with -update it rewrites want.
func compareGolden(t *testing.T, got, want string) {
	t.Helper()
	if *update {
		if err := os.RemoveAll(want); err != nil {
			t.Fatal(err)
		}
		if err := os.CopyFS(want, os.DirFS(got)); err != nil {
			t.Fatal(err)
		}
		return
	}
	gotFiles, wantFiles := readTree(t, got), readTree(t, want)
	for name, w := range wantFiles {
		g, ok := gotFiles[name]
		switch {
		case !ok:
			t.Errorf("%s: not written", name)
		case g != w:
			t.Errorf("%s: got\n%s\nwant (%s)\n%s", name, g, filepath.Join(want, name), w)
		}
	}
	for name := range gotFiles {
		if _, ok := wantFiles[name]; !ok {
			t.Errorf("%s: written, but not in %s", name, want)
		}
	}
}

// readTree returns the files below dir by their slash-separated paths.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := fs.WalkDir(os.DirFS(dir), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		out[name] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
