package federation

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
)

func TestParseXMatrix(t *testing.T) {
	tests := []struct {
		name   string
		header string
		want   XMatrix
		err    string
	}{
		{"quoted", `X-Matrix origin="land.hessen.de",destination="polizei.hessen.de",key="ed25519:a1",sig="ABC+/="`,
			XMatrix{Origin: "land.hessen.de", Destination: "polizei.hessen.de", Key: "ed25519:a1", Sig: "ABC+/="}, ""},
		{"tokens, spaces, case", "x-matrix   Origin=land.hessen.de , KEY=\"ed25519:a1\",\tsig=abc",
			XMatrix{Origin: "land.hessen.de", Key: "ed25519:a1", Sig: "abc"}, ""},
		{"Dendrite's key ID", `X-Matrix origin="dendrite.example",key="ed25519:a-B_c9",sig="x"`,
			XMatrix{Origin: "dendrite.example", Key: "ed25519:a-B_c9", Sig: "x"}, ""},
		{"origin with port", `X-Matrix origin="127.0.0.2:8448",key="ed25519:a",sig="x"`,
			XMatrix{Origin: "127.0.0.2:8448", Key: "ed25519:a", Sig: "x"}, ""},
		{"escapes", `X-Matrix origin="land\.hessen.de",key="ed25519:a",sig="x"`, XMatrix{}, "escaped character"},
		{"unknown parameter", `X-Matrix origin="land.hessen.de",key="ed25519:a",sig="x",other="ab"`, XMatrix{}, `unknown parameter "other"`},
		{"other scheme", `Bearer abc`, XMatrix{}, "not of scheme X-Matrix"},
		{"no origin", `X-Matrix key="ed25519:a",sig="x"`, XMatrix{}, "names no origin"},
		{"no key", `X-Matrix origin="land.hessen.de",sig="x"`, XMatrix{}, "not an ed25519 key ID"},
		{"no sig", `X-Matrix origin="land.hessen.de",key="ed25519:a"`, XMatrix{}, "not base64"},
		// Dendrite splits on every comma, strips quotes and lets the last
		// origin win: a quoted value with a comma would smuggle one in.
		{"origin smuggled in a quoted value", `X-Matrix origin=land.hessen.de,destination=polizei.hessen.de,foo="x,origin=evil.example,key=ed25519:abc,sig=c2ln"`,
			XMatrix{}, "unknown parameter"},
		{"origin smuggled in the key", `X-Matrix origin="land.hessen.de",key="ed25519:a,origin=evil.example",sig="c2ln"`, XMatrix{}, "separator"},
		{"origin smuggled in the sig", `X-Matrix origin="land.hessen.de",key="ed25519:a",sig="c2ln,origin=evil.example"`, XMatrix{}, "not base64"},
		{"origin smuggled in the destination", `X-Matrix origin="land.hessen.de",destination="polizei.hessen.de,origin=evil.example",key="ed25519:a",sig="c2ln"`, XMatrix{}, "separator"},
		{"lower-case scheme, smuggled origin", `x-matrix origin=land.hessen.de,foo="a,origin=evil.example",key="ed25519:a",sig=c2ln`, XMatrix{}, "unknown parameter"},
		{"quoted and unquoted origin", `X-Matrix origin=land.hessen.de,Origin="evil.example",key="ed25519:a",sig="c2ln"`, XMatrix{}, "given twice"},
		{"origin twice", `X-Matrix origin=land.hessen.de,origin=evil.example.com`, XMatrix{}, "given twice"},
		{"unterminated", `X-Matrix origin="land.hessen.de`, XMatrix{}, "unterminated"},
		{"blank in the origin", `X-Matrix origin="land hessen"`, XMatrix{}, "separator"},
		{"not a server name", `X-Matrix origin="land/hessen",key="ed25519:a",sig="x"`, XMatrix{}, "not a server name"},
		{"garbage", `X-Matrix origin`, XMatrix{}, "expected name=value"},
		{"missing comma", `X-Matrix origin="a.de" key="b"`, XMatrix{}, "expected a comma"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseXMatrix(tc.header)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %+v, %v, want an error containing %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %+v, %v, want %+v", got, err, tc.want)
			}
		})
	}
}

// upstream is a fake homeserver federation listener that records what
// reached it.
type upstream struct {
	mu   sync.Mutex
	seen []string // "METHOD PATH?QUERY"
	auth [][]string
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.seen = append(u.seen, r.Method+" "+r.URL.RequestURI())
	u.auth = append(u.auth, r.Header.Values("Authorization"))
	u.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"from":"upstream"}`)
}

func (u *upstream) take() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := u.seen
	u.seen, u.auth = nil, nil
	return out
}

// TestGateForwardsOnlyTheCheckedHeader: the homeserver behind the gate sees
// the X-Matrix header the gate rebuilt from the fields it checked, in the
// form every homeserver parses alike, and no other Authorization header.
func TestGateForwardsOnlyTheCheckedHeader(t *testing.T) {
	up, gateFor := gateWithUpstream(t)
	log, _ := logtest.NewNullLogger()
	g := gateFor(hessen(1), log)
	req := httptest.NewRequest("PUT", "https://polizei.hessen.de/_matrix/federation/v1/send/1", strings.NewReader("{}"))
	req.Header.Add("Authorization", "x-matrix   Origin=land.hessen.de , destination=polizei.hessen.de, KEY=\"ed25519:a1\",\tsig=c2ln")
	req.Header.Add("Authorization", "Bearer secret")
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("status: got %d, want 200 (%s)", rec.Code, rec.Body)
	}
	up.mu.Lock()
	got := up.auth
	up.mu.Unlock()
	want := `X-Matrix origin="land.hessen.de",destination="polizei.hessen.de",key="ed25519:a1",sig="c2ln"`
	if len(got) != 1 || len(got[0]) != 1 || got[0][0] != want {
		t.Errorf("upstream got Authorization %q, want [[%q]]", got, want)
	}
}

func xm(origin string) string {
	return `X-Matrix origin="` + origin + `",destination="polizei.hessen.de",key="ed25519:a",sig="c2ln"`
}

// gateWithUpstream starts a recording upstream for the test and returns it
// with a constructor of polizei.hessen.de's gate in front of it.
func gateWithUpstream(t *testing.T) (*upstream, func(*List, logrus.FieldLogger) *Gate) {
	up := &upstream{}
	srv := httptest.NewTLSServer(up)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return up, func(l *List, log logrus.FieldLogger) *Gate {
		return &Gate{Self: "polizei.hessen.de", Upstream: u, List: func() *List { return l }, Log: log, Transport: srv.Client().Transport}
	}
}

func TestGate(t *testing.T) {
	up, gateFor := gateWithUpstream(t)
	external := hessen(1)
	lists := map[string]*List{"hessen": hessen(1), "none": nil, "external polizei": external}
	external.Homeservers[1].External = true

	tests := []struct {
		name     string
		list     string
		method   string
		path     string
		auth     string
		status   int
		errcode  string
		errorHas []string // in the error text
		passed   bool
	}{
		{"key path unauthenticated", "hessen", "GET", "/_matrix/key/v2/server", "", 200, "", nil, true},
		{"key by ID unauthenticated", "hessen", "GET", "/_matrix/key/v2/server/ed25519:a", "", 200, "", nil, true},
		{"notary key query refused", "hessen", "POST", "/_matrix/key/v2/query", "", 403, "M_FORBIDDEN", []string{"notary"}, false},
		{"notary key query by name refused", "hessen", "GET", "/_matrix/key/v2/query/evil.example/ed25519:a", "", 403, "M_FORBIDDEN", []string{"notary"}, false},
		{"key POST refused", "hessen", "POST", "/_matrix/key/v2/server", "", 404, "M_UNRECOGNIZED", nil, false},
		{"other key path", "hessen", "GET", "/_matrix/key/v1/server", "", 404, "M_UNRECOGNIZED", nil, false},
		{"version unauthenticated", "hessen", "GET", "/_matrix/federation/v1/version", "", 200, "", nil, true},
		{"version POST needs auth", "hessen", "POST", "/_matrix/federation/v1/version", "", 401, "M_UNAUTHORIZED", nil, false},
		{"partner passes", "hessen", "PUT", "/_matrix/federation/v1/send/1?x=%21a%3Ab", xm("land.hessen.de"), 200, "", nil, true},
		{"second header, same origin", "hessen", "GET", "/_matrix/federation/v1/query/profile", xm("land.hessen.de") + "\n" + xm("land.hessen.de"), 200, "", nil, true},
		{"listed, not a partner", "hessen", "PUT", "/_matrix/federation/v1/send/1", xm("forst.hessen.de"), 403, "M_FORBIDDEN",
			[]string{"forst.hessen.de", "not allowed by the federation list"}, false},
		{"not on the list", "hessen", "PUT", "/_matrix/federation/v1/send/1", xm("evil.example.com"), 403, "M_FORBIDDEN",
			[]string{"evil.example.com is not on the federation list"}, false},
		{"no header", "hessen", "GET", "/_matrix/federation/v1/query/profile", "", 401, "M_UNAUTHORIZED", []string{"X-Matrix"}, false},
		{"bearer only", "hessen", "GET", "/_matrix/federation/v1/query/profile", "Bearer abc", 401, "M_UNAUTHORIZED", nil, false},
		{"malformed header", "hessen", "GET", "/_matrix/federation/v1/query/profile", `X-Matrix origin="land.hessen.de`, 401, "M_UNAUTHORIZED", nil, false},
		{"smuggled origin", "hessen", "PUT", "/_matrix/federation/v1/send/1",
			`X-Matrix origin=land.hessen.de,destination=polizei.hessen.de,foo="x,origin=evil.example.com,key=ed25519:abc,sig=c2ln"`, 401, "M_UNAUTHORIZED", []string{"unknown parameter"}, false},
		{"smuggled origin, second header", "hessen", "PUT", "/_matrix/federation/v1/send/1",
			xm("land.hessen.de") + "\n" + `X-Matrix origin=land.hessen.de,foo="x,origin=evil.example.com",key=ed25519:a,sig=c2ln`, 401, "M_UNAUTHORIZED", nil, false},
		{"two origins", "hessen", "GET", "/_matrix/federation/v1/query/profile", xm("land.hessen.de") + "\n" + xm("evil.example.com"), 401, "M_UNAUTHORIZED", nil, false},
		{"other destination", "hessen", "GET", "/_matrix/federation/v1/query/profile",
			`X-Matrix origin="land.hessen.de",destination="schule.hessen.de",key="ed25519:a",sig="x"`, 401, "M_UNAUTHORIZED", []string{"schule.hessen.de"}, false},
		{"no list refuses a partner", "none", "PUT", "/_matrix/federation/v1/send/1", xm("land.hessen.de"), 403, "M_FORBIDDEN",
			[]string{"land.hessen.de", "no valid federation list"}, false},
		{"no list still serves keys", "none", "GET", "/_matrix/key/v2/server", "", 200, "", nil, true},
		{"external: outsider passes", "external polizei", "PUT", "/_matrix/federation/v1/send/1", xm("timber.example.com"), 200, "", nil, true},
		{"external: partner passes", "external polizei", "PUT", "/_matrix/federation/v1/send/1", xm("land.hessen.de"), 200, "", nil, true},
		{"external: listed non-partner refused", "external polizei", "PUT", "/_matrix/federation/v1/send/1", xm("schule.hessen.de"), 403, "M_FORBIDDEN",
			[]string{"not allowed by the federation list"}, false},
		{"legacy media refused", "hessen", "GET", "/_matrix/media/v3/download/polizei.hessen.de/abc", "", 403, "M_FORBIDDEN", []string{"media"}, false},
		{"client API not served", "hessen", "GET", "/_matrix/client/versions", "", 404, "M_UNRECOGNIZED", nil, false},
		{"dot segments", "hessen", "GET", "/_matrix/key/../federation/v1/send/1", "", 400, "M_UNRECOGNIZED", nil, false},
		{"encoded dot segments", "hessen", "GET", "/_matrix/key/%2e%2e/federation/v1/send/1", "", 400, "M_UNRECOGNIZED", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			log, hook := logtest.NewNullLogger()
			g := gateFor(lists[tc.list], log)
			req := httptest.NewRequest(tc.method, "https://polizei.hessen.de"+tc.path, strings.NewReader("{}"))
			for _, h := range strings.Split(tc.auth, "\n") {
				if h != "" {
					req.Header.Add("Authorization", h)
				}
			}
			rec := httptest.NewRecorder()
			g.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Errorf("status: got %d, want %d (%s)", rec.Code, tc.status, rec.Body)
			}
			seen := up.take()
			if tc.passed {
				want := tc.method + " " + req.URL.RequestURI()
				if len(seen) != 1 || seen[0] != want {
					t.Errorf("upstream saw %q, want [%q]", seen, want)
				}
				return
			}
			if len(seen) > 0 {
				t.Errorf("a refused request reached the upstream: %q", seen)
			}
			var body struct{ Errcode, Error string }
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Errcode != tc.errcode {
				t.Errorf("body: got %s (%v), want errcode %s", rec.Body, err, tc.errcode)
			}
			for _, s := range tc.errorHas {
				if !strings.Contains(body.Error, s) {
					t.Errorf("error %q lacks %q", body.Error, s)
				}
			}
			if tc.status == 404 {
				return
			}
			e := hook.LastEntry()
			if e == nil || e.Level != logrus.WarnLevel || e.Data["path"] != req.URL.Path {
				t.Errorf("log: got %v, want a warning with the path", e)
			} else if tc.status == 403 && tc.auth != "" && e.Data["origin"] == nil {
				t.Errorf("log: got fields %v, want the origin", e.Data)
			}
		})
	}
}

func TestGateUpstreamDown(t *testing.T) {
	srv := httptest.NewServer(&upstream{})
	u, _ := url.Parse(srv.URL)
	srv.Close()
	log, _ := logtest.NewNullLogger()
	l := hessen(1)
	g := &Gate{Self: "polizei.hessen.de", Upstream: u, List: func() *List { return l }, Log: log}
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, httptest.NewRequest("GET", "/_matrix/key/v2/server", nil))
	if rec.Code != http.StatusBadGateway || !strings.Contains(rec.Body.String(), "M_UNKNOWN") {
		t.Errorf("got %d %s, want 502 M_UNKNOWN", rec.Code, rec.Body)
	}
}

// clock is a settable clock for watchers.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestWatcherKeepsTheLastGoodList(t *testing.T) {
	k := mustKey(t)
	file := filepath.Join(t.TempDir(), "list.json")
	clk := &clock{now: t0}
	log, hook := logtest.NewNullLogger()
	w := &Watcher{Source: file, Keys: []PublicKey{k.Public()}, Now: clk.Now, Log: log}
	ctx := context.Background()

	if err := w.Check(ctx); err == nil || w.List() != nil {
		t.Fatalf("missing file: got %v and list %v, want an error and no list", err, w.List())
	}
	v2 := signed(t, hessen(2), k)
	writeFile(t, file, v2)
	if err := w.Check(ctx); err != nil || w.List() == nil || w.List().Version != 2 {
		t.Fatalf("good list: got %v, want version 2 in force", err)
	}

	expired := hessen(3)
	expired.IssuedAt, expired.ExpiresAt = t0.AddDate(0, -2, 0), t0.AddDate(0, -1, 0)
	expiredDoc := forceSign(t, mustJSON(t, expired), k)
	tests := []struct {
		name string
		doc  []byte
		want Reason
	}{
		{"tampered", []byte(strings.Replace(string(signed(t, hessen(3), k)), "forst.hessen.de", "forst.hessen.dx", 1)), ReasonBadSignature},
		{"expired", expiredDoc, ReasonExpired},
		{"other key", signed(t, hessen(3), mustKey(t)), ReasonUnknownKey},
		{"garbage", []byte("{"), ReasonMalformed},
		{"rollback", signed(t, hessen(1), k), ReasonRollback},
		{"same version, other content", signed(t, func() *List { l := hessen(2); l.Homeservers[2].External = false; return l }(), k), ReasonRollback},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hook.Reset()
			writeFile(t, file, tc.doc)
			err := w.Check(ctx)
			if ReasonOf(err) != tc.want {
				t.Errorf("Check: got %v, want reason %q", err, tc.want)
			}
			if got := w.List(); got == nil || got.Version != 2 || !sameContent(got, hessen(2)) {
				t.Errorf("list in force: got %+v, want version 2 unchanged", got)
			}
			e := hook.LastEntry()
			if e == nil || e.Level != logrus.ErrorLevel || e.Data["reason"] != string(tc.want) {
				t.Errorf("log: got %+v, want an error with reason %q", e, tc.want)
			}
		})
	}

	// The same list again is no change; a newer one replaces it.
	writeFile(t, file, v2)
	if err := w.Check(ctx); err != nil || w.List().Version != 2 {
		t.Errorf("same list again: got %v, version %d", err, w.List().Version)
	}
	writeFile(t, file, signed(t, hessen(4), k))
	if err := w.Check(ctx); err != nil || w.List().Version != 4 {
		t.Fatalf("newer list: got %v, version %d, want version 4", err, w.List().Version)
	}

	// The list in force expires: it stays, loudly.
	hook.Reset()
	clk.Set(hessen(4).ExpiresAt.Add(time.Hour))
	if err := w.Check(ctx); ReasonOf(err) != ReasonExpired {
		t.Errorf("Check after expiry: got %v, want expired", err)
	}
	if w.List() == nil || w.List().Version != 4 {
		t.Errorf("after expiry: got %v, want version 4 still in force", w.List())
	}
	found := false
	for _, e := range hook.AllEntries() {
		found = found || (e.Level == logrus.ErrorLevel && strings.Contains(e.Message, "has expired"))
	}
	if !found {
		t.Errorf("no error says the list in force has expired: %v", hook.AllEntries())
	}
}

func TestWatcherRunNoticesFileChange(t *testing.T) {
	k := mustKey(t)
	file := filepath.Join(t.TempDir(), "list.json")
	writeFile(t, file, signed(t, hessen(1), k))
	log, _ := logtest.NewNullLogger()
	w := &Watcher{Source: file, Keys: []PublicKey{k.Public()}, Refresh: time.Hour, Now: func() time.Time { return t0 }, Log: log}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := w.Check(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	writeFile(t, file, signed(t, hessen(2), k))
	deadline := time.Now().Add(5 * time.Second)
	for w.List().Version != 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if w.List().Version != 2 {
		t.Errorf("after the file changed: got version %d, want 2", w.List().Version)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("Run did not return after the context ended")
	}
}

func TestWatcherHTTPS(t *testing.T) {
	k := mustKey(t)
	var mu sync.Mutex
	doc := signed(t, hessen(1), k)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if doc == nil {
			http.Error(w, "gone", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write(doc)
	}))
	defer srv.Close()
	log, _ := logtest.NewNullLogger()
	w := &Watcher{Source: srv.URL + "/federation.json", Keys: []PublicKey{k.Public()}, Client: srv.Client(), Now: func() time.Time { return t0 }, Log: log}
	if err := w.Check(context.Background()); err != nil || w.List().Version != 1 {
		t.Fatalf("https list: got %v, %v", err, w.List())
	}
	mu.Lock()
	doc = nil
	mu.Unlock()
	if err := w.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "503") || w.List().Version != 1 {
		t.Errorf("unreachable list: got %v, version %d, want an error and version 1 kept", err, w.List().Version)
	}
	plain := &Watcher{Source: strings.Replace(srv.URL, "https://", "http://", 1), Keys: []PublicKey{k.Public()}, Log: log}
	if err := plain.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "https URL") {
		t.Errorf("http source: got %v, want a refusal", err)
	}
}

func TestWatcherStateSurvivesRestart(t *testing.T) {
	k := mustKey(t)
	dir := t.TempDir()
	file, state := filepath.Join(dir, "list.json"), filepath.Join(dir, "state.json")
	clk := &clock{now: t0}
	log, _ := logtest.NewNullLogger()
	ctx := context.Background()
	newWatcher := func() *Watcher {
		return &Watcher{Source: file, Keys: []PublicKey{k.Public()}, Now: clk.Now, Log: log, State: state}
	}
	writeFile(t, file, signed(t, hessen(2), k))
	if w := newWatcher(); w.Check(ctx) != nil || w.List().Version != 2 {
		t.Fatal("version 2 not accepted")
	}
	// A restarted watcher starts from the state: a replayed version 1 is
	// refused, a tampered file leaves version 2 in force.
	writeFile(t, file, signed(t, hessen(1), k))
	w := newWatcher()
	if err := w.Check(ctx); ReasonOf(err) != ReasonRollback || w.List() == nil || w.List().Version != 2 {
		t.Fatalf("after restart, version 1 offered: got %v and %+v, want a rollback refusal and version 2", err, w.List())
	}
	// A state file that does not verify is ignored, never trusted.
	if err := os.WriteFile(state, []byte(strings.Replace(string(signed(t, hessen(7), k)), "forst.hessen.de", "forst.hessen.dx", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	w = newWatcher()
	if err := w.Check(ctx); err != nil || w.List().Version != 1 {
		t.Fatalf("tampered state: got %v and %+v, want version 1 from the file", err, w.List())
	}
}
