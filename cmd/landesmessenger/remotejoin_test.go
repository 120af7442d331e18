package main

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/stack"
)

// TestRemoteJoinHeldBackInvite reproduces the refused remote join of a
// suite under load (docs/homeservers.md, "Remote joins"): polizei is in
// rooms/landeslage on land already, land invites a further police officer,
// and the invite event does not reach polizei's copy of the room because
// land's federation queue to polizei fails and backs off. polizei then
// joins locally and refuses ("leave" to "join" forbidden by the join rule).
//
// The police federation gate is replaced by a proxy that refuses land's
// /send transactions (503, as an overloaded server would) for holdFor after
// the invite passed, and passes everything else. Before the fix the apply
// waited 15 s for the invite and failed; now it nudges land's queue and
// waits long enough, and the officer ends up joined.
func TestRemoteJoinHeldBackInvite(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test with real homeservers; run without -short")
	}
	t.Parallel()
	bin := buildBinary(t)
	s := upProvStack(t, bin, "dendrite")
	s.firstApply(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	land, police := s.server(t, "land"), s.server(t, "polizei")
	landAS := appserviceClient(t, land, id.NewUserID("landesmessenger", land.ServerName))
	officer := s.user(t, "izimmermann", "polizei")
	policeAS := appserviceClient(t, police, officer)
	res, err := landAS.ResolveAlias(ctx, s.alias(t, "rooms/landeslage", "land"))
	if err != nil {
		t.Fatal(err)
	}
	room := res.RoomID

	// The officer leaves through her own homeserver, so both copies of the
	// room agree, and the next apply joins her again.
	if _, err := policeAS.LeaveRoom(ctx, room); err != nil {
		t.Fatalf("leave as %s: %v", officer, err)
	}
	waitMembership(ctx, t, landAS, room, officer, event.MembershipLeave)

	proxy := replaceGate(t, police)
	proxy.holdFor.Store(int64(40 * time.Second))

	stdout, stderr, code := s.lm(t, "apply", "-c", s.cfg)
	if code != 0 {
		t.Fatalf("apply with land's transactions to polizei held back: exit %d, want 0 (the join must wait for the invite)\n%s\n%s", code, stdout, provLastLines(stderr, 20))
	}
	if proxy.refused.Load() == 0 {
		t.Fatal("the proxy refused no transaction: the test did not hold the invite back")
	}
	if !strings.Contains(stdout, "Applied 1 of 1 actions") {
		t.Fatalf("apply output: got %q, want the one join applied", strings.TrimSpace(stdout))
	}
	waitMembership(ctx, t, landAS, room, officer, event.MembershipJoin)
	waitMembership(ctx, t, appserviceClient(t, police, s.user(t, "fschwarz", "polizei")), room, officer, event.MembershipJoin)
}

// holdingGate stands in for a Dendrite's federation gate: it forwards
// everything to the homeserver's federation listener but refuses
// /send transactions for holdFor after the first invite it passed.
type holdingGate struct {
	holdFor   atomic.Int64 // time.Duration
	heldUntil atomic.Int64 // unix nanoseconds; 0: no invite seen yet
	refused   atomic.Int64
}

func (g *holdingGate) ServeHTTP(w http.ResponseWriter, r *http.Request, next http.Handler) {
	p := r.URL.Path
	if strings.HasPrefix(p, "/_matrix/federation/v1/send/") {
		if until := g.heldUntil.Load(); until == 0 || time.Now().UnixNano() < until {
			g.refused.Add(1)
			http.Error(w, `{"errcode":"M_UNKNOWN","error":"held back by the test"}`, http.StatusServiceUnavailable)
			return
		}
	}
	next.ServeHTTP(w, r)
	if strings.Contains(p, "/invite/") {
		g.heldUntil.CompareAndSwap(0, time.Now().Add(time.Duration(g.holdFor.Load())).UnixNano())
	}
}

// replaceGate stops the federation gate of srv and serves its address with
// a holdingGate in front of srv's federation listener until the test ends.
// Until an invite passes, every /send is refused.
func replaceGate(t *testing.T, srv *stack.Server) *holdingGate {
	t.Helper()
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(srv.GatePID) + "/cmdline")
	if err != nil {
		t.Fatalf("command line of the gate of %s (pid %d): %v", srv.Name, srv.GatePID, err)
	}
	args := map[string]string{}
	fields := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
	for i := 0; i+1 < len(fields); i++ {
		if name, ok := strings.CutPrefix(fields[i], "--"); ok {
			args[name] = fields[i+1]
		}
	}
	upstream, err := url.Parse(args["upstream"])
	if err != nil || args["listen"] == "" {
		t.Fatalf("gate of %s: no --listen or --upstream in %q", srv.Name, fields)
	}
	cert, err := tls.LoadX509KeyPair(args["tls-cert"], args["tls-key"])
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(srv.GatePID, syscall.SIGTERM); err != nil {
		t.Fatalf("stop the gate of %s (pid %d): %v", srv.Name, srv.GatePID, err)
	}
	var ln net.Listener
	for try := 0; try < 100; try++ {
		if ln, err = net.Listen("tcp", args["listen"]); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("listen on the gate's address: %v", err)
	}
	g := &holdingGate{}
	rp := httputil.NewSingleHostReverseProxy(upstream)
	rp.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	hs := &http.Server{
		Handler:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { g.ServeHTTP(w, r, rp) }),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
	}
	go hs.ServeTLS(ln, "", "")
	t.Cleanup(func() { hs.Close() })
	return g
}

// appserviceClient acts as user on srv through the stack's appservice
// (Dendrite only).
func appserviceClient(t *testing.T, srv *stack.Server, user id.UserID) *mautrix.Client {
	t.Helper()
	token, err := os.ReadFile(srv.AppserviceTokenFile)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := mautrix.NewClient(srv.ClientURL, user, strings.TrimSpace(string(token)))
	if err != nil {
		t.Fatal(err)
	}
	cli.SetAppServiceUserID = true
	return cli
}

// waitMembership waits until cli sees user's membership in room as want.
func waitMembership(ctx context.Context, t *testing.T, cli *mautrix.Client, room id.RoomID, user id.UserID, want event.Membership) {
	t.Helper()
	for {
		got := provMembership(t, cli, room, user)
		if got == string(want) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("membership of %s in %s as %s sees it: got %q, want %q", user, room, cli.UserID, got, want)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
