package main

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/landesmessenger/landesmessenger/records"
	"github.com/landesmessenger/landesmessenger/records/recordstest"
	"github.com/landesmessenger/landesmessenger/store"
)

// TestArchiveCommands files three messages into the example config's
// database, then runs `archive verify` and `archive export` on the built
// binary: on the intact chain, with anchors, and after a body was changed
// in the database behind the archive's back.
func TestArchiveCommands(t *testing.T) {
	bin := buildBinary(t)
	stackDir := t.TempDir()
	env := []string{"LM_STACK_DIR=" + stackDir}
	dbPath := filepath.Join(stackDir, "landesmessenger.db")
	const caseRef = "HMdIS-Z-12/2026"

	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+dbPath, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	a := records.New(st, records.Options{Now: recordstest.Clock(time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC))})
	var filed []records.Entry
	for n := range 3 {
		e, _, err := a.File(ctx, recordstest.Message(n, caseRef))
		if err != nil {
			t.Fatal(err)
		}
		filed = append(filed, e)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string // substrings of stdout+stderr
	}{
		{"verify", []string{"archive", "verify", "-c", "config/example.yaml"}, 0,
			[]string{"3 entries, chain intact", "head: 3:" + filed[2].Hash}},
		{"verify with a good anchor", []string{"archive", "verify", "-c", "config/example.yaml", "--anchor", "2:" + filed[1].Hash}, 0,
			[]string{"3 entries, chain intact"}},
		{"verify with a rewritten anchor", []string{"archive", "verify", "-c", "config/example.yaml", "--anchor", "2:" + filed[0].Hash}, 1,
			[]string{"archive broken: entry 2: anchor mismatch"}},
		{"verify with an anchor past the end", []string{"archive", "verify", "-c", "config/example.yaml", "--anchor", "4:" + filed[0].Hash}, 1,
			[]string{"archive broken: entry 4: missing entry"}},
		{"verify with a bad anchor", []string{"archive", "verify", "-c", "config/example.yaml", "--anchor", "2"}, 1,
			[]string{"--anchor: invalid record: \"2\" is not SEQ:HASH"}},
		{"export without a selection", []string{"archive", "export", "-c", "config/example.yaml"}, 2,
			[]string{"give either --case AZ or --room ROOM"}},
		{"export of a bad case reference", []string{"archive", "export", "-c", "config/example.yaml", "--case", "a\tb"}, 1,
			[]string{"--case: invalid record"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := run(t, bin, env, tc.args...)
			if code != tc.wantCode {
				t.Errorf("exit code: got %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantCode, stdout, stderr)
			}
			for _, want := range tc.wantOut {
				if !strings.Contains(stdout+stderr, want) {
					t.Errorf("output lacks %q\nstdout: %s\nstderr: %s", want, stdout, stderr)
				}
			}
		})
	}

	t.Run("export", func(t *testing.T) {
		out := t.TempDir()
		stdout, stderr, code := run(t, bin, env, "archive", "export", "-c", "config/example.yaml", "--case", caseRef, "--out", out)
		if code != 0 || !strings.Contains(stdout, "3 entries exported to "+out+" (3 files)") || !strings.Contains(stdout, "chain intact, head: 3:"+filed[2].Hash) {
			t.Fatalf("export: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
		}
		checkExport(t, out, filed, "")
	})

	// Change a body behind the archive's back, as whoever controls the
	// database can.
	raw, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"DROP TRIGGER archive_entry_no_update", "UPDATE archive_entry SET body = 'Vermerk 1: erledigt.' WHERE seq = 2"} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}

	t.Run("verify after tampering", func(t *testing.T) {
		stdout, stderr, code := run(t, bin, env, "archive", "verify", "-c", "config/example.yaml")
		if code != 1 || !strings.Contains(stderr, "archive broken: entry 2: hash mismatch") || strings.Contains(stdout, "chain intact") {
			t.Errorf("verify: got exit %d, want 1 naming entry 2\nstdout: %s\nstderr: %s", code, stdout, stderr)
		}
	})
	t.Run("export after tampering", func(t *testing.T) {
		out := t.TempDir()
		stdout, stderr, code := run(t, bin, env, "archive", "export", "-c", "config/example.yaml", "--room", "hmdis/allgemein", "--out", out)
		if code != 1 || !strings.Contains(stderr, "archive broken: entry 2: hash mismatch") {
			t.Errorf("export: got exit %d, want 1 naming entry 2\nstdout: %s\nstderr: %s", code, stdout, stderr)
		}
		checkExport(t, out, filed, "nein (no): entry 2: hash mismatch")
	})
}

// checkExport checks the files of an export of the three messages filed:
// one JSON line each, the attachment, and the HTML saying want (or that
// the chain is intact, if want is "").
func checkExport(t *testing.T, dir string, filed []records.Entry, want string) {
	t.Helper()
	lines, err := os.ReadFile(filepath.Join(dir, records.JSONLinesFile))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(lines), "\n"); n != len(filed) {
		t.Errorf("%s: got %d lines, want %d", records.JSONLinesFile, n, len(filed))
	}
	for _, e := range filed {
		if !strings.Contains(string(lines), `"hash":"`+e.Hash+`"`) {
			t.Errorf("%s lacks entry %d", records.JSONLinesFile, e.Seq)
		}
	}
	if !strings.Contains(string(lines), `"file":"anlagen/000003-1-anlage-2.txt"`) {
		t.Errorf("%s does not name the attachment's file:\n%s", records.JSONLinesFile, lines)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "anlagen", "000003-1-anlage-2.txt")); err != nil || string(data) != "Anlage zu Vermerk 2\n" {
		t.Errorf("attachment: got %q, %v", data, err)
	}
	html, err := os.ReadFile(filepath.Join(dir, "HMdIS-Z-12_2026.html"))
	if err != nil {
		t.Fatal(err)
	}
	if want == "" {
		want = "ja (yes): alle 3 Einträge der Kette unverändert"
	}
	if !strings.Contains(string(html), want) || !strings.Contains(string(html), "<title>Akte HMdIS-Z-12/2026</title>") {
		t.Errorf("HTML lacks %q or its title:\n%s", want, html)
	}
}
