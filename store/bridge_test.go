package store

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"
)

func TestBridgeMail(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			b.require(t)
			st := openStore(t, b.newURI(t))
			ctx := context.Background()
			t0 := time.UnixMilli(1_795_000_000_000)
			raw := []byte("From: a@b.c\r\nMessage-ID: <m1@b.c>\r\n\r\n\x00binary\xff")
			for i, want := range []bool{true, false} {
				isNew, err := st.AddInbound(ctx, "schulamt", "<m1@b.c>", raw, t0.Add(time.Duration(i)*time.Second))
				if err != nil || isNew != want {
					t.Fatalf("AddInbound #%d: %v, %v; want new=%v", i, isNew, err, want)
				}
			}
			if _, err := st.AddInbound(ctx, "other", "<m1@b.c>", raw, t0); err != nil {
				t.Fatal(err)
			}
			pending, err := st.PendingInbound(ctx)
			if err != nil || len(pending) != 2 || !bytes.Equal(pending[0].Raw, raw) {
				t.Fatalf("PendingInbound: %d, %v", len(pending), err)
			}
			if err := st.MarkPosted(ctx, "schulamt", "<m1@b.c>", t0); err != nil {
				t.Fatal(err)
			}
			if pending, _ = st.PendingInbound(ctx); len(pending) != 1 || pending[0].Room != "other" {
				t.Errorf("after posting: %+v", pending)
			}
			if mid, err := st.Mailed(ctx, "$ev"); err != nil || mid != "" {
				t.Errorf("Mailed before: %q, %v", mid, err)
			}
			for range 2 {
				if err := st.RecordMailed(ctx, "$ev", "schulamt", "<x@y>", t0); err != nil {
					t.Fatal(err)
				}
			}
			if mid, err := st.Mailed(ctx, "$ev"); err != nil || mid != "<x@y>" {
				t.Errorf("Mailed after: %q, %v", mid, err)
			}
		})
	}
}

// TestFinding6InboxPurged is issue 14, finding 6: raw mails are deleted
// once posted for longer than the bridge keeps them, each deletion is in
// the deletion log, and mails not posted yet are never deleted.
func TestFinding6InboxPurged(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			b.require(t)
			st := openStore(t, b.newURI(t))
			ctx := context.Background()
			t0 := time.UnixMilli(1_795_000_000_000)
			for _, key := range []string{"a@s.test <old@s>", "a@s.test <new@s>", "a@s.test <pending@s>"} {
				if _, err := st.AddInbound(ctx, "schulamt", key, []byte("From: a@s.test\r\n\r\nx"), t0); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.MarkPosted(ctx, "schulamt", "a@s.test <old@s>", t0); err != nil {
				t.Fatal(err)
			}
			if err := st.MarkPosted(ctx, "schulamt", "a@s.test <new@s>", t0.Add(8*24*time.Hour)); err != nil {
				t.Fatal(err)
			}
			describe := func(room, key string) (id.RoomID, id.UserID) { return "!bridged:schule", "@schule_1:schule" }
			cut := t0.Add(7 * 24 * time.Hour)
			n, err := st.PurgeInbound(ctx, cut, "bridge.inbox_retention 168h0m0s", describe)
			if err != nil || n != 1 {
				t.Fatalf("PurgeInbound: %d, %v; want 1", n, err)
			}
			var left []string
			rows, err := st.db.Query(ctx, `SELECT message_id FROM bridge_inbox ORDER BY message_id`)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var k string
				_ = rows.Scan(&k)
				left = append(left, k)
			}
			rows.Close()
			if strings.Join(left, ",") != "a@s.test <new@s>,a@s.test <pending@s>" {
				t.Errorf("left in the inbox: %v", left)
			}
			log, err := st.DeletionLog(ctx, DeletionFilter{RoomKey: "bridge/schulamt"})
			if err != nil || len(log) != 1 || log[0].EventID != "mail:a@s.test <old@s>" || log[0].Method != DeletionPurge ||
				log[0].RoomID != "!bridged:schule" || log[0].Sender != "@schule_1:schule" || !strings.Contains(log[0].Policy, "inbox_retention") {
				t.Errorf("deletion log: %+v, %v", log, err)
			}
			// Again: nothing more to delete; the pending mail stays even
			// long after.
			if n, err := st.PurgeInbound(ctx, t0.Add(365*24*time.Hour), "p", describe); err != nil || n != 1 {
				t.Errorf("second purge: %d, %v; want 1 (the newer posted mail)", n, err)
			}
			if pending, _ := st.PendingInbound(ctx); len(pending) != 1 {
				t.Errorf("pending mails after purging: %d, want 1", len(pending))
			}
		})
	}
}
