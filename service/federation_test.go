package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/federation"
	"github.com/landesmessenger/landesmessenger/store"
)

// listDoc is an unsigned list of version v, valid from issued for a month.
func listDoc(v int64, issued time.Time, withForst bool) []byte {
	forst := ""
	landPartners := `"polizei.test"`
	if withForst {
		forst = `, {"server_name": "forst.test", "tenant": "forst", "federates_with": ["land.test"]}`
		landPartners += `, "forst.test"`
	}
	return fmt.Appendf(nil, `{"version": %d, "issued_at": %q, "expires_at": %q, "homeservers": [
		{"server_name": "land.test", "tenant": "land", "federates_with": [%s]},
		{"server_name": "polizei.test", "tenant": "polizei", "federates_with": ["land.test"]}%s]}`,
		v, issued.UTC().Format(time.RFC3339), issued.Add(30*24*time.Hour).UTC().Format(time.RFC3339), landPartners, forst)
}

func TestListKeeper(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	key, err := federation.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := federation.WriteKeyPair(filepath.Join(dir, "key"), key); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	now := t0
	listFile := filepath.Join(dir, "list.json")
	write := func(doc []byte) {
		t.Helper()
		if err := os.WriteFile(listFile, doc, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sign := func(doc []byte) []byte {
		t.Helper()
		signed, err := federation.Sign(doc, key, now)
		if err != nil {
			t.Fatal(err)
		}
		return signed
	}
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(dir, "lm.db"), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := &config.Federation{List: listFile, PublicKeyFiles: []string{filepath.Join(dir, "key.pub")}, Refresh: time.Minute}
	log, hook := test.NewNullLogger()
	keeper := func() *ListKeeper {
		var notes []string
		k := &ListKeeper{Config: cfg, Store: st, Log: log, Now: func() time.Time { return now },
			Notify: func(_ context.Context, text string) { notes = append(notes, text) }}
		if err := k.Load(ctx); err != nil {
			t.Fatal(err)
		}
		return k
	}
	lastError := func() string {
		for i := len(hook.Entries) - 1; i >= 0; i-- {
			if e := hook.Entries[i]; e.Level == logrus.ErrorLevel {
				return fmt.Sprintf("%s %v", e.Message, e.Data)
			}
		}
		return ""
	}

	// No list has ever been accepted and the file is garbage: provisioning stops.
	k := keeper()
	write([]byte("not json"))
	if _, err := k.Refresh(ctx); !errors.Is(err, ErrNoFederationList) || federation.ReasonOf(err) != federation.ReasonMalformed {
		t.Fatalf("garbage without a list in force: got %v, want ErrNoFederationList (malformed)", err)
	}

	// A good list is accepted and kept in the store.
	v1 := sign(listDoc(1, t0, true))
	write(v1)
	if changed, err := k.Refresh(ctx); err != nil || !changed || k.Current().Version != 1 {
		t.Fatalf("good list: changed=%v err=%v", changed, err)
	}
	if !k.Current().Allowed("land.test", "forst.test") {
		t.Fatal("version 1 allows land with forst")
	}
	// The same list again changes nothing.
	if changed, err := k.Refresh(ctx); err != nil || changed {
		t.Fatalf("same list again: changed=%v err=%v", changed, err)
	}

	tampered := bytes.Replace(v1, []byte(`"forst.test"`), []byte(`"forsx.test"`), 1)
	other, _ := federation.GenerateKey()
	foreign, _ := federation.Sign(listDoc(5, t0, true), other, now)
	cases := []struct {
		name   string
		doc    []byte
		at     time.Time
		reason federation.Reason
	}{
		{"tampered", tampered, t0, federation.ReasonBadSignature},
		{"unknown key", foreign, t0, federation.ReasonUnknownKey},
		{"expired", v1, t0.Add(31 * 24 * time.Hour), federation.ReasonExpired},
		{"changed without a new version", sign(listDoc(1, t0, false)), t0, federation.ReasonRollback},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			now = tc.at
			defer func() { now = t0 }()
			write(tc.doc)
			k.fetched = time.Time{}
			if changed, err := k.Refresh(ctx); err != nil || changed {
				t.Fatalf("got changed=%v err=%v; want the last good list kept without error", changed, err)
			}
			if got := k.Current(); got.Version != 1 || !got.Allowed("land.test", "forst.test") {
				t.Fatalf("list in force changed to %+v", got)
			}
			if msg := lastError(); !strings.Contains(msg, "keeping the last good list") || !strings.Contains(msg, string(tc.reason)) {
				t.Errorf("log: got %q, want the refusal with reason %q", msg, tc.reason)
			}
		})
	}

	// A restart finds the last good list in the store even if the file is bad.
	write(tampered)
	k2 := keeper()
	if _, err := k2.Refresh(ctx); err != nil || k2.Current() == nil || k2.Current().Version != 1 {
		t.Fatalf("after restart with a tampered file: %v, %+v", err, k2.Current())
	}

	// A newer version narrows: forst is gone.
	write(sign(listDoc(2, t0, false)))
	if changed, err := k2.Refresh(ctx); err != nil || !changed || k2.Current().Allowed("land.test", "forst.test") {
		t.Fatalf("version 2: changed=%v err=%v", changed, err)
	}
	if saved, _ := st.FederationList(ctx); saved == nil || saved.Version != 2 {
		t.Errorf("store keeps %+v, want version 2", saved)
	}
	// Replaying version 1, validly signed, does not widen access again.
	write(v1)
	k2.fetched = time.Time{}
	if changed, err := k2.Refresh(ctx); err != nil || changed || k2.Current().Version != 2 {
		t.Fatalf("replayed version 1: changed=%v err=%v version=%d", changed, err, k2.Current().Version)
	}
	if msg := lastError(); !strings.Contains(msg, "older version") {
		t.Errorf("log: got %q, want the rollback refused", msg)
	}
}
