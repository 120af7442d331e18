package store

import (
	"bytes"
	"context"
	"testing"
	"time"
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
