package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/store"
)

// TestRetentionLog writes two deletions into a database and reads them back
// with `retention log`, filtered, on the built binary.
func TestRetentionLog(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "lm.db")
	cfg := filepath.Join(dir, "c.yaml")
	conf := "database:\n  uri: sqlite:" + db + "\nhomeservers:\n  - name: land\n    server_name: land.test\n    client_url: http://127.0.0.1:1\n" +
		"tenants:\n  - {id: hmdis, name: HMdIS, kind: ministry, homeserver: land}\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+db, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	for i, room := range []string{"hmdis/allgemein", "polizei/allgemein"} {
		if _, err := st.LogDeletion(ctx, store.Deletion{
			At: at.Add(time.Duration(i) * 24 * time.Hour), RoomKey: room, RoomID: "!r:land.test", EventID: id.EventID("$e" + room),
			Sender: "@a:land.test", SentAt: at.Add(-40 * 24 * time.Hour), Policy: "max 30d", Method: store.DeletionRedact,
		}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	stdout, stderr, code := run(t, bin, nil, "retention", "log", "-c", cfg)
	if code != 0 {
		t.Fatalf("retention log: exit %d\n%s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("retention log: got %d lines, want 2:\n%s", len(lines), stdout)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
		t.Fatal(err)
	}
	if m["room_key"] != "hmdis/allgemein" || m["policy"] != "max 30d" || m["method"] != "redact" || m["at"] != "2026-11-20T08:00:00Z" {
		t.Errorf("first line: %v", m)
	}
	if _, ok := m["body"]; ok {
		t.Errorf("the deletion log carries content: %v", m)
	}
	stdout, _, _ = run(t, bin, nil, "retention", "log", "-c", cfg, "--room", "polizei/allgemein", "--since", "2026-11-21")
	if got := strings.Count(stdout, "\n"); got != 1 || !strings.Contains(stdout, `"polizei/allgemein"`) {
		t.Errorf("filtered log: got %q", stdout)
	}
	if _, stderr, code := run(t, bin, nil, "retention", "log", "-c", cfg, "--since", "gestern"); code == 0 || !strings.Contains(stderr, "--since") {
		t.Errorf("bad --since: exit %d, %q", code, stderr)
	}
}
