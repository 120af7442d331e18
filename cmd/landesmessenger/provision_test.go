package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/directory"
	"github.com/landesmessenger/landesmessenger/federation"
	"github.com/landesmessenger/landesmessenger/internal/stackslot"
	"github.com/landesmessenger/landesmessenger/service"
	"github.com/landesmessenger/landesmessenger/stack"
)

// This file holds the integration tests of provisioning (plan and apply)
// against real homeservers of both kinds. Each kind runs on a stack of its
// own in a t.TempDir, purged when the test ends. The CLI is exercised
// through the binary (exit codes, output, SIGKILL); what only the process
// itself can tell (the write counter) is checked in-process with
// service.Start.

var provKinds = []string{"dendrite", "synapse"}

// TestProvisioning applies the example configuration on a fresh stack and
// then, on that stack and in this order: logs people in and checks their
// rooms (as the hosts and as the people's own homeservers see them),
// detects and restores drift made by hand, repairs what interrupted room
// creations leave, refuses bad directory reads, and applies a change set
// exactly. The steps share the stack, so a failed step stops the ones after
// it.
func TestProvisioning(t *testing.T) {
	onEachStack(t, func(t *testing.T, s *provStack) {
		steps := []struct {
			name string
			fn   func(*testing.T, *provStack)
		}{
			{"apply example", provApplyExample},
			{"people log in", provPeopleLogIn},
			{"members see their rooms", provMembersSeeTheirRooms},
			{"drift", provDrift},
			{"interrupted creations", provInterruptedCreations},
			{"bad directory", provBadDirectory},
			{"change set", provChangeSet},
		}
		for _, step := range steps {
			if !t.Run(step.name, func(t *testing.T) { step.fn(t, s) }) {
				t.Fatalf("step %q failed; the later steps need its result", step.name)
			}
		}
	})
}

// provStack is a running stack with what the tests need to know of it.
type provStack struct {
	bin   string
	kind  string
	dir   string
	state *stack.State
	env   []string
	// cfg is the example configuration rendered for this stack (absolute
	// paths, no environment references), for in-process use and copies.
	cfg string
}

// upProvStack starts a stack of kind with the example configuration in a fresh
// folder; it purges it when the test ends and checks that no process of it
// is left. A stack that does not start fails the test.
func upProvStack(t *testing.T, bin, kind string) *provStack {
	t.Helper()
	return upStack(t, bin, kind, "--homeserver", kind)
}

// upStack starts the example's stack with the stack up arguments args;
// kind is the kind stack.json must then record ("mixed" for a mixed one).
func upStack(t *testing.T, bin, kind string, args ...string) *provStack {
	t.Helper()
	return upStackWith(t, bin, kind, nil, args...)
}

// upStackWith is upStack with further environment for every command.
func upStackWith(t *testing.T, bin, kind string, env []string, args ...string) *provStack {
	t.Helper()
	stackslot.Hold(t, stackslot.Cost(kind, 4))
	dir := t.TempDir()
	base := append([]string{"LM_STACK_DIR=" + dir, "LM_LOG_LEVEL=warn", "LM_ONBOARDING_ENABLED=false"}, bridgeTestEnv(t)...)
	s := &provStack{bin: bin, kind: kind, dir: dir, env: append(base, env...)}
	t.Cleanup(func() {
		st, _ := stack.Load(dir)
		if t.Failed() && st != nil {
			for _, hs := range st.Homeservers {
				data, _ := os.ReadFile(hs.LogFile)
				var problems []string
				for _, line := range strings.Split(string(data), "\n") {
					if strings.Contains(line, "level=error") || strings.Contains(line, " ERROR ") {
						problems = append(problems, line)
					}
				}
				t.Logf("errors in %s (last 10):\n%s", hs.LogFile, strings.Join(problems[max(0, len(problems)-10):], "\n"))
				if hs.GateLogFile != "" {
					data, _ := os.ReadFile(hs.GateLogFile)
					lines := strings.Split(strings.TrimSpace(string(data)), "\n")
					t.Logf("%s (last 10):\n%s", hs.GateLogFile, strings.Join(lines[max(0, len(lines)-10):], "\n"))
				}
			}
		}
		if stdout, stderr, code := run(t, bin, s.env, "stack", "down", "--purge"); code != 0 {
			t.Errorf("stack down --purge: got exit %d, want 0\n%s%s", code, stdout, stderr)
		}
		if st == nil {
			return
		}
		pids := map[string]int{}
		for _, hs := range st.Homeservers {
			pids[hs.Name] = hs.PID
			if hs.GatePID != 0 {
				pids[hs.Name+"-gate"] = hs.GatePID
			}
		}
		if st.Postgres != nil {
			pids["postgres"] = st.Postgres.PID
		}
		for name, pid := range pids {
			if provProcessRuns(pid) {
				t.Errorf("%s (pid %d) of the %s stack: got running after stack down --purge, want stopped", name, pid, kind)
			}
		}
	})
	stdout, stderr, code := run(t, bin, s.env, append([]string{"stack", "up", "-c", "config/example.yaml"}, args...)...)
	if code != 0 {
		t.Fatalf("stack up %s: got exit %d, want 0\n%s%s", strings.Join(args, " "), code, stdout, stderr)
	}
	st, err := stack.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if string(st.Kind) != kind || len(st.Homeservers) != 4 {
		t.Fatalf("stack.json: got kind %s with %d homeservers, want %s with 4", st.Kind, len(st.Homeservers), kind)
	}
	s.state = st
	s.cfg = provRenderConfig(t, t.TempDir(), dir, provRepoPath(t, "config/directory.yaml"))
	return s
}

// bridgeTestEnv gives the school bridge of the example configuration free
// loopback ports, so that parallel tests running serve do not share them
// (a later value of the same variable wins).
func bridgeTestEnv(t *testing.T) []string {
	t.Helper()
	return []string{"LM_BRIDGE_SMTP=" + freeLoopback(t), "LM_BRIDGE_APPSERVICE=" + freeLoopback(t), "LM_BRIDGE_RELAY=" + freeLoopback(t)}
}

// firstApply applies the stack's configuration once; it must succeed on the
// first try, under load too: a join over federation waits for its invite
// (docs/homeservers.md, "Remote joins").
func (s *provStack) firstApply(t *testing.T) {
	t.Helper()
	s.mustLM(t, 0, "apply", "-c", s.cfg)
}

// onEachKind runs steps on a fresh stack of every kind in parallel: the
// stack is up, prepare (if not nil) has adjusted it, and the first apply is
// done. It skips with -short.
func onEachKind(t *testing.T, prepare, steps func(*testing.T, *provStack)) {
	t.Helper()
	onEachStack(t, func(t *testing.T, s *provStack) {
		if prepare != nil {
			prepare(t, s)
		}
		s.firstApply(t)
		steps(t, s)
	})
}

// onEachStack runs steps on a fresh stack of every kind in parallel, before
// any apply, in parallel with other tests (internal/stackslot bounds the
// stacks). It skips with -short.
func onEachStack(t *testing.T, steps func(*testing.T, *provStack)) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test with real homeservers; run without -short")
	}
	t.Parallel()
	bin := buildBinary(t)
	for _, kind := range provKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			steps(t, upProvStack(t, bin, kind))
		})
	}
}

// provProcessRuns reports whether pid is a live process (not a zombie).
func provProcessRuns(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// provRepoPath returns the absolute path of a file of the repository.
func provRepoPath(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("../..", rel))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// provRenderConfig writes the example configuration into dir as example.yaml
// with the stack folder and the directory file filled in, then applies
// edits: pairs of old and new text, each old text occurring exactly once.
func provRenderConfig(t *testing.T, dir, stackDir, directoryFile string, edits ...string) string {
	t.Helper()
	data, err := os.ReadFile(provRepoPath(t, "config/example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(data), "${LM_STACK_DIR:-.demo}", stackDir)
	// Onboarding is off unless a test is about it (it edits this back).
	text = provReplaceOnce(t, "config/example.yaml", text, "${LM_ONBOARDING_ENABLED:-true}", "false")
	text = provReplaceOnce(t, "config/example.yaml", text, "${LM_DIRECTORY_FILE:-config/directory.yaml}", directoryFile)
	for i := 0; i+1 < len(edits); i += 2 {
		text = provReplaceOnce(t, "config/example.yaml", text, edits[i], edits[i+1])
	}
	path := filepath.Join(dir, "example.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// provReplaceOnce replaces old, which must occur exactly once in text.
func provReplaceOnce(t *testing.T, file, text, old, new string) string {
	t.Helper()
	if n := strings.Count(text, old); n != 1 {
		t.Fatalf("%s: %q occurs %d times, want once (did the file change?)", file, old, n)
	}
	return strings.Replace(text, old, new, 1)
}

// server returns the stack's homeserver name.
func (s *provStack) server(t *testing.T, name string) *stack.Server {
	t.Helper()
	hs, ok := s.state.Server(name)
	if !ok {
		t.Fatalf("homeserver %s: not in the stack", name)
	}
	return hs
}

// user returns the Matrix ID of a person on homeserver hs.
func (s *provStack) user(t *testing.T, localpart, hs string) id.UserID {
	return id.NewUserID(localpart, s.server(t, hs).ServerName)
}

// lm runs the binary in the repository root with the stack's environment.
func (s *provStack) lm(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return run(t, s.bin, s.env, args...)
}

// mustLM runs the binary and fails the test unless it exits with want.
func (s *provStack) mustLM(t *testing.T, want int, args ...string) (stdout, stderr string) {
	t.Helper()
	stdout, stderr, code := s.lm(t, args...)
	if code != want {
		t.Fatalf("landesmessenger %s: got exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, stdout, provLastLines(stderr, 40))
	}
	return stdout, stderr
}

func provLastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// provAction is an action of `plan --json`, as far as the tests read it.
type provAction struct {
	Type       string          `json:"type"`
	Tenant     string          `json:"tenant"`
	Homeserver string          `json:"homeserver"`
	User       string          `json:"user"`
	Room       string          `json:"room"`
	RoomID     string          `json:"room_id"`
	EventType  string          `json:"event_type"`
	Drift      bool            `json:"drift"`
	Space      json.RawMessage `json:"space"` // a key (set_space_child) or a flag (create_room)
	Child      string          `json:"child"`
	ChildID    string          `json:"child_id"`
	Remove     bool            `json:"remove"`
	To         json.RawMessage `json:"to"`
}

// String names the action by its kind and subject, e.g.
// "join_room hmdis/unit-z @jfischer:127.1.2.10".
func (a provAction) String() string {
	switch a.Type {
	case "create_account", "set_display_name", "deactivate_account":
		return a.Type + " " + a.User
	case "create_room", "close_room", "set_alias":
		return a.Type + " " + a.Room
	case "retire_duplicate":
		return a.Type + " " + a.Room + " " + a.RoomID
	case "set_state":
		s := a.Type + " " + a.Room + " " + a.EventType
		if a.Drift {
			s += " drift"
		}
		return s
	case "set_space_child":
		if a.Remove {
			return a.Type + " " + a.spaceKey() + " -" + a.ChildID
		}
		return a.Type + " " + a.spaceKey() + " " + a.Child
	case "join_room", "remove_member":
		return a.Type + " " + a.Room + " " + a.User
	}
	return a.Type + " ?"
}

// spaceKey returns the space of a set_space_child action.
func (a provAction) spaceKey() string {
	var key string
	_ = json.Unmarshal(a.Space, &key)
	return key
}

// planJSON runs `plan --json` with extra arguments and returns the actions.
func (s *provStack) planJSON(t *testing.T, args ...string) []provAction {
	t.Helper()
	stdout, _ := s.mustLM(t, 0, append([]string{"plan", "--json"}, args...)...)
	var out struct {
		Actions *[]provAction `json:"actions"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("plan --json: got invalid JSON (%v), want {\"actions\": [...]}:\n%s", err, stdout)
	}
	if out.Actions == nil {
		t.Fatalf("plan --json: got no \"actions\" array, want {\"actions\": [...]}:\n%s", stdout)
	}
	return *out.Actions
}

// names returns the sorted names of actions.
func provActionNames(actions []provAction) []string {
	out := make([]string, len(actions))
	for i, a := range actions {
		out[i] = a.String()
	}
	sort.Strings(out)
	return out
}

// provDiff says what got has that want lacks and the other way round.
func provDiff(got, want []string) string {
	g, w := map[string]int{}, map[string]int{}
	for _, s := range got {
		g[s]++
	}
	for _, s := range want {
		w[s]++
	}
	var b strings.Builder
	for _, s := range got {
		if g[s] > w[s] {
			fmt.Fprintf(&b, "  unexpected: %s\n", s)
			g[s]--
		}
	}
	for _, s := range want {
		if w[s] > 0 && g[s] < w[s] {
			fmt.Fprintf(&b, "  missing:    %s\n", s)
			w[s]--
		}
	}
	return b.String()
}

// provWant is what the example configuration and directory should become.
type provWant struct {
	users []string          // Matrix IDs of every person
	rooms map[string]string // room key -> homeserver name
	hosts map[string]string // tenant -> homeserver name
	cfg   *config.Config    // the rendered configuration
	// personHost maps person ids to their homeserver names.
	personHost map[string]string
}

// expect derives, independently of the planner, the accounts and rooms the
// configuration cfgPath asks for.
func (s *provStack) expect(t *testing.T, cfgPath string) *provWant {
	t.Helper()
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatalf("load %s: %v", cfgPath, err)
	}
	e := &provWant{rooms: map[string]string{}, hosts: map[string]string{}, cfg: cfg, personHost: map[string]string{}}
	e.rooms["rooms/verwaltung"] = string(cfg.Admin.Homeserver)
	for _, tn := range cfg.Tenants {
		hs := string(tn.Homeserver)
		e.hosts[string(tn.ID)] = hs
		for _, r := range []string{"space", "allgemein", "leitung", "mitteilungen", "verwaltung"} {
			e.rooms[string(tn.ID)+"/"+r] = hs
		}
		for _, u := range tn.Units {
			e.rooms[string(tn.ID)+"/unit-"+string(u.ID)] = hs
		}
		for _, r := range tn.Rooms {
			e.rooms[string(tn.ID)+"/"+string(r.ID)] = hs
		}
	}
	for _, r := range cfg.Rooms {
		e.rooms["rooms/"+string(r.ID)] = string(r.Host)
	}
	res, err := directory.NewFile(cfg.Directory[0].Path).Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.People {
		e.users = append(e.users, s.user(t, string(p.ID), e.hosts[string(p.Tenant)]).String())
		e.personHost[string(p.ID)] = e.hosts[string(p.Tenant)]
	}
	sort.Strings(e.users)
	return e
}

// alias returns the canonical alias of a managed room.
func (s *provStack) alias(t *testing.T, key, hs string) id.RoomAlias {
	return id.NewRoomAlias("lm."+strings.ReplaceAll(key, "/", "."), s.server(t, hs).ServerName)
}

// connect starts the service in-process on the rendered configuration; it
// stops when the test ends unless stopped before.
func (s *provStack) connect(t *testing.T, cfgPath string) *service.Service {
	t.Helper()
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatalf("load %s: %v", cfgPath, err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	svc, err := service.Start(context.Background(), cfg, log, "test")
	if err != nil {
		t.Fatalf("service.Start: %v", err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
	return svc
}

// provServiceClient returns the service account's client of homeserver name.
func provServiceClient(t *testing.T, svc *service.Service, name string) *mautrix.Client {
	t.Helper()
	for _, c := range svc.Conns {
		if c.Endpoint.Name == name {
			return c.Client
		}
	}
	t.Fatalf("homeserver %s: not connected", name)
	return nil
}

// credentials reads the stack's credentials file.
func (s *provStack) credentials(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(s.dir, "credentials.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pw map[string]string
	if err := json.Unmarshal(data, &pw); err != nil {
		t.Fatalf("credentials.json: %v", err)
	}
	return pw
}

// login logs a person in with their password from credentials.json.
func (s *provStack) login(ctx context.Context, hs string, user id.UserID, password string) (*mautrix.Client, error) {
	srv, ok := s.state.Server(hs)
	if !ok {
		return nil, fmt.Errorf("homeserver %s: not in the stack", hs)
	}
	cli, err := mautrix.NewClient(srv.ClientURL, "", "")
	if err != nil {
		return nil, err
	}
	_, err = cli.Login(ctx, &mautrix.ReqLogin{
		Type:             mautrix.AuthTypePassword,
		Identifier:       mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: user.String()},
		Password:         password,
		StoreCredentials: true,
	})
	if err != nil {
		return nil, err
	}
	return cli, nil
}

// mustLogin logs a person in and logs them out when the test ends.
func (s *provStack) mustLogin(t *testing.T, hs string, user id.UserID) *mautrix.Client {
	t.Helper()
	pw, ok := s.credentials(t)[user.String()]
	if !ok {
		t.Fatalf("credentials.json: got no entry for %s, want one", user)
	}
	cli, err := s.login(context.Background(), hs, user, pw)
	if err != nil {
		t.Fatalf("log in as %s: got %v, want a session", user, err)
	}
	t.Cleanup(func() { _, _ = cli.Logout(context.Background()) })
	return cli
}

func provResolve(t *testing.T, cli *mautrix.Client, alias id.RoomAlias) id.RoomID {
	t.Helper()
	res, err := cli.ResolveAlias(context.Background(), alias)
	if err != nil {
		t.Fatalf("resolve %s: %v", alias, err)
	}
	return res.RoomID
}

func provState(t *testing.T, cli *mautrix.Client, room id.RoomID, typ, key string, out any) {
	t.Helper()
	if err := cli.StateEvent(context.Background(), room, event.Type{Type: typ, Class: event.StateEventType}, key, out); err != nil {
		t.Fatalf("state %s of %s as %s: %v", typ, room, cli.UserID, err)
	}
}

func provPutState(t *testing.T, cli *mautrix.Client, room id.RoomID, typ string, content any) {
	t.Helper()
	if _, err := cli.SendStateEvent(context.Background(), room, event.Type{Type: typ, Class: event.StateEventType}, "", content); err != nil {
		t.Fatalf("put %s into %s as %s: %v", typ, room, cli.UserID, err)
	}
}

// membership returns user's membership in room as cli sees it.
func provMembership(t *testing.T, cli *mautrix.Client, room id.RoomID, user id.UserID) string {
	t.Helper()
	var m struct {
		Membership string `json:"membership"`
	}
	err := cli.StateEvent(context.Background(), room, event.StateMember, user.String(), &m)
	if err != nil && !strings.Contains(err.Error(), "M_NOT_FOUND") {
		t.Fatalf("membership of %s in %s: %v", user, room, err)
	}
	return m.Membership
}

// provApplyExample is part 1: apply the example config on the fresh stack,
// then nothing is left to do, and a second apply makes no write request.
func provApplyExample(t *testing.T, s *provStack) {
	want := s.expect(t, s.cfg)
	// Before the first apply the plan creates every account and room.
	var gotUsers, gotRooms []string
	for _, a := range s.planJSON(t, "-c", "config/example.yaml") {
		switch a.Type {
		case "create_account":
			gotUsers = append(gotUsers, a.User)
		case "create_room":
			gotRooms = append(gotRooms, a.Room+"@"+a.Homeserver)
		}
	}
	var wantRooms []string
	for key, hs := range want.rooms {
		wantRooms = append(wantRooms, key+"@"+hs)
	}
	sort.Strings(gotUsers)
	sort.Strings(gotRooms)
	sort.Strings(wantRooms)
	if !slices.Equal(gotUsers, want.users) {
		t.Errorf("create_account in the fresh plan: got %d, want %d:\n%s", len(gotUsers), len(want.users), provDiff(gotUsers, want.users))
	}
	if !slices.Equal(gotRooms, wantRooms) {
		t.Errorf("create_room in the fresh plan: got %d, want %d:\n%s", len(gotRooms), len(wantRooms), provDiff(gotRooms, wantRooms))
	}

	start := time.Now()
	stdout, _ := s.mustLM(t, 0, "apply", "-c", "config/example.yaml")
	t.Logf("%s: first apply took %s: %s", s.kind, time.Since(start).Round(time.Millisecond), strings.TrimSpace(stdout))
	if m := regexp.MustCompile(`Applied (\d+) of (\d+) actions .*\((\d+) failed`).FindStringSubmatch(stdout); m == nil || m[1] != m[2] || m[3] != "0" {
		t.Errorf("apply: got %q, want \"Applied N of N actions ... (0 failed; ...)\"", strings.TrimSpace(stdout))
	}
	stdout, _ = s.mustLM(t, 0, "plan", "-c", "config/example.yaml", "--exit-code")
	if !strings.Contains(stdout, "In sync: no changes.") {
		t.Errorf("plan after apply: got %q, want \"In sync: no changes.\"", stdout)
	}
	if got := s.planJSON(t, "-c", "config/example.yaml"); len(got) != 0 {
		t.Errorf("plan --json after apply: got %v, want no actions", provActionNames(got))
	}
	stdout, _ = s.mustLM(t, 0, "apply", "-c", "config/example.yaml")
	if got := strings.TrimSpace(stdout); got != "In sync: nothing to do." {
		t.Errorf("second apply: got %q, want \"In sync: nothing to do.\"", got)
	}

	// In-process, the request counter proves that a converged reconcile
	// only reads.
	svc := s.connect(t, s.cfg)
	eng, err := svc.Provisioning()
	if err != nil {
		t.Fatal(err)
	}
	writes, reads := svc.Writes(), svc.Reads()
	out, res, err := svc.Reconcile(context.Background(), eng, false, nil)
	if err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	if len(out.Plan.Actions) != 0 || res != nil {
		t.Errorf("converged reconcile: got %d actions (result %+v), want none", len(out.Plan.Actions), res)
	}
	if got := svc.Writes() - writes; got != 0 {
		t.Errorf("write requests of a converged reconcile: got %d, want 0", got)
	}
	if got := svc.Reads() - reads; got == 0 {
		t.Errorf("read requests of a converged reconcile: got 0, want some (did it read the homeservers?)")
	}
}

// provPeopleRooms lists the rooms a person of the example should be joined to.
var provPeopleRooms = []struct {
	localpart, hs, tenant string
	rooms                 []string
	federate              bool // m.federate of the tenant's internal rooms
}{
	// A ministry admin on land, which carries four tenants: internal rooms
	// federate (the tenants share the server), the cross room landeslage.
	// As the tenant's admin, also in its management room.
	{"mmustermann", "land", "hmdis", []string{"hmdis/space", "hmdis/allgemein", "hmdis/leitung", "hmdis/mitteilungen", "hmdis/unit-z", "rooms/landeslage", "hmdis/verwaltung"}, true},
	// A police admin: the police's internal rooms do not federate; the
	// cross room landeslage lives on land.
	{"fschwarz", "polizei", "polizei", []string{"polizei/space", "polizei/allgemein", "polizei/leitung", "polizei/mitteilungen", "polizei/unit-pp-nordhessen", "rooms/landeslage", "polizei/verwaltung"}, false},
	// The Land admin: the Land-wide admin room besides her tenant's rooms.
	{"kwagner", "land", "stk", []string{"stk/space", "stk/allgemein", "stk/leitung", "stk/mitteilungen", "stk/unit-z", "stk/verwaltung", "rooms/verwaltung", "rooms/landeslage"}, true},
	// A forester: the external room holzmarkt and the cross room
	// forst-umwelt (audience all) on land.
	{"gmeier", "forst", "hessenforst", []string{"hessenforst/space", "hessenforst/allgemein", "hessenforst/mitteilungen", "hessenforst/unit-fa-kassel", "hessenforst/holzmarkt", "rooms/forst-umwelt"}, false},
}

// provPeopleLogIn is part 2: people log in with the passwords of
// credentials.json and are joined to their tenant's encrypted rooms, which
// their space lists and whose server ACLs allow exactly the participating
// homeservers.
func provPeopleLogIn(t *testing.T, s *provStack) {
	want := s.expect(t, s.cfg)
	for _, p := range provPeopleRooms {
		t.Run(p.localpart, func(t *testing.T) {
			ctx := context.Background()
			user := s.user(t, p.localpart, p.hs)
			cli := s.mustLogin(t, p.hs, user)
			ids := map[id.RoomID]string{}
			for _, key := range p.rooms {
				ids[provResolve(t, cli, s.alias(t, key, want.rooms[key]))] = key
			}
			joined, err := cli.JoinedRooms(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var gotKeys, wantKeys []string
			for _, rid := range joined.JoinedRooms {
				key, ok := ids[rid]
				if !ok {
					key = "unexpected " + rid.String()
				}
				gotKeys = append(gotKeys, key)
			}
			wantKeys = append(wantKeys, p.rooms...)
			sort.Strings(gotKeys)
			sort.Strings(wantKeys)
			if !slices.Equal(gotKeys, wantKeys) {
				t.Errorf("joined rooms of %s: got %v, want %v", user, gotKeys, wantKeys)
			}

			for rid, key := range ids {
				var enc struct {
					Algorithm string `json:"algorithm"`
				}
				provState(t, cli, rid, "m.room.encryption", "", &enc)
				if enc.Algorithm != "m.megolm.v1.aes-sha2" {
					t.Errorf("%s m.room.encryption: got algorithm %q, want m.megolm.v1.aes-sha2", key, enc.Algorithm)
				}
				var acl struct {
					Allow           []string `json:"allow"`
					Deny            []string `json:"deny"`
					AllowIPLiterals bool     `json:"allow_ip_literals"`
				}
				provState(t, cli, rid, "m.room.server_acl", "", &acl)
				wantAllow, wantDeny := s.wantACL(t, want, key), s.wantDeny(t, want, key)
				sort.Strings(acl.Allow)
				sort.Strings(acl.Deny)
				if !slices.Equal(acl.Allow, wantAllow) || !slices.Equal(acl.Deny, wantDeny) || !acl.AllowIPLiterals {
					t.Errorf("%s m.room.server_acl: got allow %v, deny %v, allow_ip_literals %t; want allow %v, deny %v, allow_ip_literals true",
						key, acl.Allow, acl.Deny, acl.AllowIPLiterals, wantAllow, wantDeny)
				}
			}

			// The tenant's internal rooms federate only where the server
			// carries several tenants (m.federate is fixed at creation).
			var create struct {
				Federate *bool `json:"m.federate"`
			}
			general := p.tenant + "/allgemein"
			provState(t, cli, provResolve(t, cli, s.alias(t, general, p.hs)), "m.room.create", "", &create)
			if got := create.Federate == nil || *create.Federate; got != p.federate {
				t.Errorf("%s m.room.create m.federate: got %t, want %t", general, got, p.federate)
			}

			// The space lists every room of the tenant (m.space.child), and
			// its hierarchy shows the person every room they are in.
			space := provResolve(t, cli, s.alias(t, p.tenant+"/space", p.hs))
			h, err := cli.Hierarchy(ctx, space, &mautrix.ReqHierarchy{})
			if err != nil {
				t.Fatalf("hierarchy of %s/space: %v", p.tenant, err)
			}
			var listed []string
			children := map[id.RoomID]bool{}
			for _, r := range h.Rooms {
				key, ok := ids[r.RoomID]
				if !ok {
					continue // a room of the tenant the person is not in
				}
				listed = append(listed, key)
				if r.RoomID == space {
					for _, ev := range r.ChildrenState {
						if ev.StateKey != nil {
							children[id.RoomID(*ev.StateKey)] = true
						}
					}
				}
			}
			sort.Strings(listed)
			// Management rooms are in no space.
			wantKeys = slices.DeleteFunc(wantKeys, func(k string) bool { return strings.HasSuffix(k, "/verwaltung") })
			if !slices.Equal(listed, wantKeys) {
				t.Errorf("hierarchy of %s/space as %s: got %v, want %v", p.tenant, user, listed, wantKeys)
			}
			var gotChildren, wantChildren []string
			childKey := map[id.RoomID]string{}
			for key, hs := range want.rooms {
				if s.isChild(want, p.tenant, key) {
					wantChildren = append(wantChildren, key)
					childKey[provResolve(t, cli, s.alias(t, key, hs))] = key
				}
			}
			for rid := range children {
				key, ok := childKey[rid]
				if !ok {
					key = "unexpected " + rid.String()
				}
				gotChildren = append(gotChildren, key)
			}
			sort.Strings(gotChildren)
			sort.Strings(wantChildren)
			if !slices.Equal(gotChildren, wantChildren) {
				t.Errorf("m.space.child of %s/space: got %v, want %v", p.tenant, gotChildren, wantChildren)
			}
		})
	}
}

// provMembersSeeTheirRooms checks, for every person, that the rooms whose
// host lists them as joined are the rooms their own homeserver lists, and
// that they can read each of them there (a room a homeserver joined over
// federation can be broken on the joining side alone).
func provMembersSeeTheirRooms(t *testing.T, s *provStack) {
	ctx := context.Background()
	svc := s.connect(t, s.cfg)
	hostView := map[id.UserID][]string{}
	service := map[id.UserID]bool{}
	for _, hs := range s.state.Homeservers {
		service[id.UserID(hs.ServiceUserID)] = true
		// The admin and archive bots: their passwords are in the
		// database, not in the credentials file (bots are tested on their
		// own).
		service[id.NewUserID(svc.Config.Admin.BotLocalpart, hs.ServerName)] = true
		service[id.NewUserID(svc.Config.Records.BotLocalpart, hs.ServerName)] = true
	}
	for _, hs := range s.state.Homeservers {
		cli := provServiceClient(t, svc, hs.Name)
		joined, err := cli.JoinedRooms(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, rid := range joined.JoinedRooms {
			members, err := cli.JoinedMembers(ctx, rid)
			if err != nil {
				t.Fatalf("members of %s: %v", rid, err)
			}
			for u := range members.Joined {
				if !service[u] {
					hostView[u] = append(hostView[u], rid.String())
				}
			}
		}
	}
	_ = svc.Stop()
	creds := s.credentials(t)
	for u, want := range hostView {
		cli, err := s.login(ctx, s.hostOf(t, u), u, creds[u.String()])
		if err != nil {
			t.Errorf("log in as %s: got %v, want a session", u, err)
			continue
		}
		joined, err := cli.JoinedRooms(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, rid := range joined.JoinedRooms {
			got = append(got, rid.String())
			var enc map[string]any
			if err := cli.StateEvent(ctx, rid, event.StateEncryption, "", &enc); err != nil {
				t.Errorf("read %s as its member %s on their homeserver: got %v, want the room's state", rid, u, err)
			}
		}
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("rooms of %s on their homeserver: got %v, want those their hosts list them in, %v", u, got, want)
		}
		_, _ = cli.Logout(ctx)
	}
}

// isChild reports whether the room key belongs in the space of tenant.
func (s *provStack) isChild(want *provWant, tenant, key string) bool {
	if strings.HasSuffix(key, "/verwaltung") {
		return false // management rooms are in no space
	}
	if strings.HasPrefix(key, tenant+"/") {
		return key != tenant+"/space"
	}
	if r, ok := want.cfg.Room(config.RoomID(strings.TrimPrefix(key, "rooms/"))); ok && strings.HasPrefix(key, "rooms/") {
		return slices.Contains(r.Tenants, config.TenantID(tenant))
	}
	return false
}

// wantACL returns the allow list a room's server ACL should have: the
// homeservers of its tenants and its host, or every server for external
// rooms.
func (s *provStack) wantACL(t *testing.T, want *provWant, key string) []string {
	t.Helper()
	tenant, room, _ := strings.Cut(key, "/")
	hosts := map[string]bool{want.rooms[key]: true}
	if key == "rooms/verwaltung" {
		// The Land admin room: the homeservers of its admins and auditors.
		for _, pid := range append(append([]string(nil), want.cfg.Admin.LandAdmins...), want.cfg.Admin.Auditors...) {
			hosts[want.personHost[pid]] = true
		}
	} else if tenant == "rooms" {
		r, _ := want.cfg.Room(config.RoomID(room))
		for _, tn := range r.Tenants {
			hosts[want.hosts[string(tn)]] = true
		}
	} else if tn, ok := want.cfg.Tenant(config.TenantID(tenant)); ok {
		if r, ok := tn.Room(config.RoomID(room)); ok && r.Class == config.ClassExternal {
			return []string{"*"}
		}
	}
	var allow []string
	for hs := range hosts {
		allow = append(allow, s.server(t, hs).ServerName)
	}
	sort.Strings(allow)
	return allow
}

// wantDeny returns the deny list a room's server ACL should have: for an
// external room, the servers of the stack's federation list its host may
// not federate with (the police, for forestry's timber market); else none.
func (s *provStack) wantDeny(t *testing.T, want *provWant, key string) []string {
	t.Helper()
	if allow := s.wantACL(t, want, key); len(allow) != 1 || allow[0] != "*" {
		return []string{}
	}
	data, err := os.ReadFile(filepath.Join(s.dir, "federation", "list.json"))
	if err != nil {
		t.Fatalf("the stack's federation list: %v", err)
	}
	var l federation.List
	if err := json.Unmarshal(data, &l); err != nil {
		t.Fatal(err)
	}
	host := federation.ServerName(s.server(t, want.rooms[key]).ServerName)
	deny := []string{}
	for _, srv := range l.Servers() {
		if !l.Allowed(host, srv) {
			deny = append(deny, srv.Host())
		}
	}
	sort.Strings(deny)
	return deny
}

// provDrift is part 4: a server ACL widened and a power level raised by
// hand show up as drift and apply restores them.
func provDrift(t *testing.T, s *provStack) {
	svc := s.connect(t, s.cfg)
	land := provServiceClient(t, svc, "land")
	room := provResolve(t, land, s.alias(t, "hmdis/allgemein", "land"))
	var acl, pl map[string]any
	provState(t, land, room, "m.room.server_acl", "", &acl)
	provState(t, land, room, "m.room.power_levels", "", &pl)
	origACL, _ := json.Marshal(acl)
	origPL, _ := json.Marshal(pl)

	widened := map[string]any{}
	_ = json.Unmarshal(origACL, &widened)
	widened["allow"] = append(widened["allow"].([]any), "*")
	provPutState(t, land, room, "m.room.server_acl", widened)
	raised := map[string]any{}
	_ = json.Unmarshal(origPL, &raised)
	jfischer := s.user(t, "jfischer", "land")
	// To moderator: a level equal to the service account's (100) could not
	// be taken back under Matrix's rules.
	raised["users"].(map[string]any)[jfischer.String()] = 50
	provPutState(t, land, room, "m.room.power_levels", raised)
	_ = svc.Stop()

	got := provActionNames(s.planJSON(t, "-c", s.cfg))
	want := []string{"set_state hmdis/allgemein m.room.power_levels drift", "set_state hmdis/allgemein m.room.server_acl drift"}
	if !slices.Equal(got, want) {
		t.Fatalf("plan after changes by hand: got %v, want %v", got, want)
	}
	s.mustLM(t, 0, "apply", "-c", s.cfg)
	s.mustLM(t, 0, "plan", "-c", s.cfg, "--exit-code")

	svc = s.connect(t, s.cfg)
	land = provServiceClient(t, svc, "land")
	var gotACL, gotPL struct {
		Allow []string       `json:"allow"`
		Users map[string]int `json:"users"`
	}
	provState(t, land, room, "m.room.server_acl", "", &gotACL)
	provState(t, land, room, "m.room.power_levels", "", &gotPL)
	if wantAllow := []string{s.server(t, "land").ServerName}; !slices.Equal(gotACL.Allow, wantAllow) {
		t.Errorf("server ACL allow after apply: got %v, want %v", gotACL.Allow, wantAllow)
	}
	if lvl, ok := gotPL.Users[jfischer.String()]; ok {
		t.Errorf("power level of %s after apply: got %d, want none (member)", jfischer, lvl)
	}
	_ = svc.Stop()
}

// provInterruptedCreations checks the repair of what a creation that a
// crash interrupted can leave behind (the crash test makes them at random):
// a second room with the key of a managed room, one with a member and the
// alias, and a room whose alias is missing. Plan shows exactly the repairs
// and apply carries them out.
func provInterruptedCreations(t *testing.T, s *provStack) {
	ctx := context.Background()
	svc := s.connect(t, s.cfg)
	land := provServiceClient(t, svc, "land")
	duplicate := func(key string) id.RoomID {
		t.Helper()
		resp, err := land.CreateRoom(ctx, &mautrix.ReqCreateRoom{
			Preset: "private_chat",
			InitialState: []*event.Event{{
				Type:     event.Type{Type: "de.landesmessenger.managed", Class: event.StateEventType},
				StateKey: new(string),
				Content:  event.Content{Raw: map[string]any{"key": key, "tenant": strings.Split(key, "/")[0]}},
			}},
		})
		if err != nil {
			t.Fatalf("create a second room with the key %s: %v", key, err)
		}
		return resp.RoomID
	}
	dupGeneral := duplicate("hmdis/allgemein")
	dupLeadership := duplicate("hmdis/leitung")
	// The second room of hmdis/leitung has a member and the alias.
	sweber := s.user(t, "sweber", "land")
	if _, err := land.InviteUser(ctx, dupLeadership, &mautrix.ReqInviteUser{UserID: sweber}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.mustLogin(t, "land", sweber).JoinRoomByID(ctx, dupLeadership); err != nil {
		t.Fatal(err)
	}
	leadershipAlias := s.alias(t, "hmdis/leitung", "land")
	leadership := provResolve(t, land, leadershipAlias)
	if _, err := land.DeleteAlias(ctx, leadershipAlias); err != nil {
		t.Fatal(err)
	}
	if _, err := land.CreateAlias(ctx, leadershipAlias, dupLeadership); err != nil {
		t.Fatal(err)
	}
	// The alias of stk/allgemein is gone.
	stkAlias := s.alias(t, "stk/allgemein", "land")
	stkGeneral := provResolve(t, land, stkAlias)
	if _, err := land.DeleteAlias(ctx, stkAlias); err != nil {
		t.Fatal(err)
	}
	_ = svc.Stop()

	got := provActionNames(s.planJSON(t, "-c", s.cfg))
	want := []string{
		"retire_duplicate hmdis/allgemein " + dupGeneral.String(),
		"retire_duplicate hmdis/leitung " + dupLeadership.String(),
		"set_alias hmdis/leitung",
		"set_alias stk/allgemein",
	}
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Fatalf("plan after interrupted creations: got %v, want %v", got, want)
	}
	s.mustLM(t, 0, "apply", "-c", s.cfg)
	s.mustLM(t, 0, "plan", "-c", s.cfg, "--exit-code")

	svc = s.connect(t, s.cfg)
	land = provServiceClient(t, svc, "land")
	for alias, want := range map[id.RoomAlias]id.RoomID{leadershipAlias: leadership, stkAlias: stkGeneral} {
		if got := provResolve(t, land, alias); got != want {
			t.Errorf("alias %s after apply: got %s, want %s", alias, got, want)
		}
	}
	joined, err := land.JoinedRooms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, dup := range []id.RoomID{dupGeneral, dupLeadership} {
		if slices.Contains(joined.JoinedRooms, dup) {
			t.Errorf("service account in the retired duplicate %s: got joined, want left", dup)
		}
	}
	_ = svc.Stop()
	sweberCli := s.mustLogin(t, "land", sweber)
	joined, err = sweberCli.JoinedRooms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(joined.JoinedRooms, dupLeadership) {
		t.Errorf("%s in the retired duplicate %s: got joined, want removed", sweber, dupLeadership)
	}
}

// provWriteFile writes people lines into a directory file in dir.
func provWriteFile(t *testing.T, dir, name string, content []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// provBadDirectory is part 6: a directory that lost most people, or one
// that cannot be read, stops plan and apply with exit code 1 and a clear
// message, and changes nothing.
func provBadDirectory(t *testing.T, s *provStack) {
	dir := t.TempDir()
	orig, err := os.ReadFile(provRepoPath(t, "config/directory.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// Keep the first person of each tenant only.
	var kept []string
	seen := map[string]bool{}
	var removed []string
	tenantRE := regexp.MustCompile(`tenant: ([a-z-]+)`)
	idRE := regexp.MustCompile(`\{id: ([a-z]+),`)
	for _, line := range strings.Split(string(orig), "\n") {
		m := tenantRE.FindStringSubmatch(line)
		if m == nil || strings.HasPrefix(strings.TrimSpace(line), "#") {
			kept = append(kept, line)
			continue
		}
		if seen[m[1]] {
			removed = append(removed, s.user(t, idRE.FindStringSubmatch(line)[1], s.expectHost(t, m[1])).String())
			continue
		}
		seen[m[1]] = true
		kept = append(kept, line)
	}
	sort.Strings(removed)
	few := provRenderConfig(t, t.TempDir(), s.dir, provWriteFile(t, dir, "few.yaml", []byte(strings.Join(kept, "\n"))))

	for _, cmd := range []string{"plan", "apply"} {
		stdout, stderr, code := s.lm(t, cmd, "-c", few)
		if code != 1 || !strings.Contains(stderr, "refusing to remove") || !strings.Contains(stderr, "--allow-mass-removal") {
			t.Errorf("%s with most people gone: got exit %d and\n%s%s\nwant exit 1 and \"refusing to remove ... --allow-mass-removal\"", cmd, code, stdout, provLastLines(stderr, 5))
		}
	}
	var gone []string
	for _, a := range s.planJSON(t, "-c", few, "--allow-mass-removal") {
		if a.Type == "deactivate_account" {
			gone = append(gone, a.User)
		}
	}
	sort.Strings(gone)
	if !slices.Equal(gone, removed) {
		t.Errorf("plan --allow-mass-removal deactivates: got %v, want %v", gone, removed)
	}

	bad := []struct {
		name    string
		file    string
		content []byte
		want    string
	}{
		{"missing", "missing.yaml", nil, "directory file"},
		{"empty", "empty.yaml", []byte{}, "read directory"},
		{"not utf-8", "latin1.yaml", []byte("people:\n  - {id: m\xfcller, given_name: M, surname: M, tenant: stk}\n"), "not UTF-8"},
		{"syntax error", "broken.yaml", []byte("people:\n  - {id: kwagner, given_name: [Katharina\n"), "read directory"},
	}
	for _, b := range bad {
		path := filepath.Join(dir, b.file)
		if b.content != nil {
			provWriteFile(t, dir, b.file, b.content)
		}
		cfg := filepath.Join(dir, "config-"+strings.ReplaceAll(b.name, " ", "-"))
		if err := os.MkdirAll(cfg, 0o700); err != nil {
			t.Fatal(err)
		}
		cfgPath := provRenderConfig(t, cfg, s.dir, path)
		for _, cmd := range []string{"plan", "apply"} {
			stdout, stderr, code := s.lm(t, cmd, "-c", cfgPath)
			if code != 1 || !strings.Contains(stderr, b.want) || !strings.Contains(stderr, path) {
				t.Errorf("%s with a %s directory file: got exit %d and\n%s%s\nwant exit 1 and an error naming %s with %q", cmd, b.name, code, stdout, provLastLines(stderr, 5), path, b.want)
			}
		}
	}
	// Nothing changed.
	s.mustLM(t, 0, "plan", "-c", s.cfg, "--exit-code")
}

// expectHost returns the homeserver of tenant in the example.
func (s *provStack) expectHost(t *testing.T, tenant string) string {
	t.Helper()
	cfg, err := config.Load(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	tn, ok := cfg.Tenant(config.TenantID(tenant))
	if !ok {
		t.Fatalf("tenant %s: not in the example", tenant)
	}
	return string(tn.Homeserver)
}

// The change set of part 3, applied to copies of the example.
var (
	// A new ministry on land with one unit.
	provNewTenant = `  - id: hmwk
    name: "Hessisches Ministerium für Wissenschaft und Forschung, Kunst und Kultur"
    short_name: HMWK
    kind: ministry
    homeserver: land
    units:
      - id: z
        name: Zentralabteilung

# Cross-tenant rooms:`
	provNewPerson = "  - {id: hwinter, given_name: Hanna, surname: Winter, office: HMWK, tenant: hmwk, unit: z, role: member}\n"
)

// provChangeSet is part 3: a change set (a person moves between units, a
// room is renamed, a tenant is added, a person is removed) plans exactly its
// diff, apply carries it out and leaves nothing to do.
func provChangeSet(t *testing.T, s *provStack) {
	dir := t.TempDir()
	orig, err := os.ReadFile(provRepoPath(t, "config/directory.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	people := string(orig)
	people = provReplaceOnce(t, "config/directory.yaml", people,
		"tenant: hmdis, unit: lpp, role: member, deputy: eschmidt}", "tenant: hmdis, unit: z, role: member, deputy: eschmidt}")
	people = provReplaceOnce(t, "config/directory.yaml", people,
		"  - {id: vhuber, given_name: Volker, surname: Huber, office: StK, tenant: stk, role: member}\n", "")
	people += provNewPerson
	cfg := provRenderConfig(t, dir, s.dir, provWriteFile(t, dir, "directory.yaml", []byte(people)),
		"        name: Holzmarkt\n", "        name: Holzbörse\n",
		"\n# Cross-tenant rooms:", "\n"+provNewTenant,
		// One person of the four of the StK is a quarter of the tenant:
		// more than the example's limit of a tenth, meant for directories
		// of real size.
		"max_removal_share: 0.10", "max_removal_share: 0.5",
	)

	land := func(localpart string) string { return s.user(t, localpart, "land").String() }
	want := []string{
		"create_account " + land("hwinter"),
		"create_room hmwk/space",
		"create_room hmwk/allgemein",
		"create_room hmwk/leitung",
		"create_room hmwk/mitteilungen",
		"create_room hmwk/unit-z",
		"create_room hmwk/verwaltung",
		"join_room hmwk/verwaltung " + land("lm-verwaltung"),
		"set_space_child hmwk/space hmwk/allgemein",
		"set_space_child hmwk/space hmwk/leitung",
		"set_space_child hmwk/space hmwk/mitteilungen",
		"set_space_child hmwk/space hmwk/unit-z",
		"join_room hmwk/space " + land("hwinter"),
		"join_room hmwk/allgemein " + land("hwinter"),
		"join_room hmwk/mitteilungen " + land("hwinter"),
		"join_room hmwk/unit-z " + land("hwinter"),
		"set_state hessenforst/holzmarkt m.room.name",
		"join_room hmdis/unit-z " + land("jfischer"),
		"remove_member hmdis/unit-lpp " + land("jfischer"),
		"remove_member stk/space " + land("vhuber"),
		"remove_member stk/allgemein " + land("vhuber"),
		"remove_member stk/mitteilungen " + land("vhuber"),
		"deactivate_account " + land("vhuber"),
	}
	sort.Strings(want)
	actions := s.planJSON(t, "-c", cfg)
	if got := provActionNames(actions); !slices.Equal(got, want) {
		t.Fatalf("plan of the change set: got %d actions, want %d:\n%s", len(got), len(want), provDiff(got, want))
	}
	for _, a := range actions {
		var to struct {
			Name string `json:"name"`
		}
		if a.Type == "set_state" && (json.Unmarshal(a.To, &to) != nil || to.Name != "Holzbörse") {
			t.Errorf("rename: got m.room.name %s, want name Holzbörse", a.To)
		}
	}
	vhuberPW := s.credentials(t)[land("vhuber")]
	stdout, _ := s.mustLM(t, 0, "apply", "-c", cfg)
	if !strings.Contains(stdout, fmt.Sprintf("Applied %d of %d actions", len(want), len(want))) {
		t.Errorf("apply of the change set: got %q, want \"Applied %d of %d actions\"", strings.TrimSpace(stdout), len(want), len(want))
	}
	s.mustLM(t, 0, "plan", "-c", cfg, "--exit-code")

	svc := s.connect(t, cfg)
	adm := provServiceClient(t, svc, "land")
	forst := provServiceClient(t, svc, "forst")
	checks := []struct {
		key, hs, user, want string
	}{
		{"hmdis/unit-z", "land", land("jfischer"), "join"},
		{"hmdis/unit-lpp", "land", land("jfischer"), "leave"},
		{"stk/allgemein", "land", land("vhuber"), "leave"},
		{"stk/space", "land", land("vhuber"), "leave"},
		{"hmwk/unit-z", "land", land("hwinter"), "join"},
	}
	for _, c := range checks {
		room := provResolve(t, adm, s.alias(t, c.key, c.hs))
		if got := provMembership(t, adm, room, id.UserID(c.user)); got != c.want {
			t.Errorf("membership of %s in %s: got %q, want %q", c.user, c.key, got, c.want)
		}
	}
	var name struct {
		Name string `json:"name"`
	}
	provState(t, forst, provResolve(t, forst, s.alias(t, "hessenforst/holzmarkt", "forst")), "m.room.name", "", &name)
	if name.Name != "Holzbörse" {
		t.Errorf("name of hessenforst/holzmarkt: got %q, want Holzbörse", name.Name)
	}
	_ = svc.Stop()

	// The removed person is locked out; the new one logs in.
	if _, err := s.login(context.Background(), "land", id.UserID(land("vhuber")), vhuberPW); err == nil {
		t.Errorf("login of the removed %s: got a session, want refused", land("vhuber"))
	}
	cli := s.mustLogin(t, "land", id.UserID(land("hwinter")))
	joined, err := cli.JoinedRooms(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(joined.JoinedRooms) != 4 {
		t.Errorf("rooms of %s: got %d, want 4 (space, allgemein, mitteilungen, unit-z)", cli.UserID, len(joined.JoinedRooms))
	}
}

// TestProvisioningCrashSafety kills apply with SIGKILL at random points of
// a first apply on a fresh stack, at least ten times, then applies to
// completion: the result converges with exactly one room per managed key,
// reachable by its alias, and exactly one account per person, who sees
// their rooms. Both kinds run: Synapse's apply is slower than Dendrite's,
// yet both fit the time budget (about a minute each, in parallel), and the
// two treat a client that goes away mid-request differently (Dendrite
// abandons the rest of a createRoom, alias included).
func TestProvisioningCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test with real homeservers; run without -short")
	}
	t.Parallel()
	bin := buildBinary(t)
	for _, kind := range provKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			s := upProvStack(t, bin, kind)
			want := s.expect(t, s.cfg)
			total := len(s.planJSON(t, "-c", s.cfg))
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
			// Kill points, as shares of the fresh apply's actions, spread
			// over the whole apply with more of them early, where accounts
			// and rooms are created; three kills are timed instead, to hit
			// the start (connecting, reading the state, planning).
			var points []float64
			for range 5 {
				points = append(points, 0.35*rng.Float64())
			}
			for range 5 {
				points = append(points, 0.35+0.6*rng.Float64())
			}
			sort.Float64s(points)
			for i := 0; i < 3; i++ {
				points = slices.Insert(points, 1+4*i, -1)
			}
			kills := 0
			for i, p := range points {
				var k provCrashPoint
				if p < 0 {
					k.delay = time.Duration(20+rng.IntN(300)) * time.Millisecond
				} else {
					k.share, k.jitter = p, time.Duration(rng.IntN(30))*time.Millisecond
				}
				killed, log := s.crashApply(t, k, total)
				if killed {
					kills++
				}
				t.Logf("%s: run %d (%+v): killed=%t: %s", kind, i, k, killed, log)
			}
			if kills < 10 {
				t.Errorf("apply killed: got %d times, want at least 10", kills)
			}
			stdout, stderr := s.mustLM(t, 0, "apply", "-c", s.cfg)
			t.Logf("%s: final apply: %s%s", kind, stdout, provRepairs(stderr))
			stdout, _ = s.mustLM(t, 0, "plan", "-c", s.cfg, "--exit-code")
			if !strings.Contains(stdout, "In sync: no changes.") {
				t.Errorf("plan after the crashes: got %q, want \"In sync: no changes.\"", stdout)
			}
			s.checkNoDuplicates(t, want)
			provMembersSeeTheirRooms(t, s)
		})
	}
}

// provRepairs returns the lines of an apply's output about what interrupted
// runs left behind: duplicates retired, aliases restored.
func provRepairs(stderr string) string {
	var out []string
	for _, line := range strings.Split(stderr, "\n") {
		if strings.Contains(line, "duplicate") || strings.Contains(line, "carry the key") || strings.Contains(line, "alias #") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// provCrashPoint says when crashApply kills: after share of the fresh apply's
// actions are done (then after jitter), or after delay from the start.
type provCrashPoint struct {
	share  float64
	jitter time.Duration
	delay  time.Duration
}

// crashApply runs apply and kills it with SIGKILL at k. It reports whether
// the kill hit a running apply, and the last progress line with the repairs
// of what earlier runs left behind.
func (s *provStack) crashApply(t *testing.T, k provCrashPoint, total int) (bool, string) {
	t.Helper()
	cmd := exec.Command(s.bin, "apply", "-c", s.cfg)
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), s.env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var timer *time.Timer
	if k.delay > 0 {
		timer = time.AfterFunc(k.delay, func() { _ = cmd.Process.Signal(syscall.SIGKILL) })
	}
	progress := regexp.MustCompile(`^\[(\d+)/(\d+)\]`)
	sc := bufio.NewScanner(stderr)
	last, target := "", -1
	var repairs []string
	for sc.Scan() {
		line := sc.Text()
		if r := provRepairs(line); r != "" {
			repairs = append(repairs, r)
		}
		m := progress.FindStringSubmatch(line)
		if m == nil {
			if strings.Contains(line, "level=error") || strings.Contains(line, "FAILED") {
				last = line
			}
			continue
		}
		last = line
		if k.delay > 0 {
			continue
		}
		done, _ := strconv.Atoi(m[1])
		remaining, _ := strconv.Atoi(m[2])
		if target < 0 {
			// This run's actions are what earlier runs left: aim at the
			// same share of the fresh apply.
			target = min(max(1, int(k.share*float64(total))-(total-remaining)), max(1, remaining-1))
		}
		if done >= target {
			time.Sleep(k.jitter)
			_ = cmd.Process.Signal(syscall.SIGKILL)
			break
		}
	}
	_, _ = io.Copy(io.Discard, stderr)
	err = cmd.Wait()
	if timer != nil {
		timer.Stop()
	}
	if len(repairs) > 0 {
		last += "\n" + strings.Join(repairs, "\n")
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
		return true, last
	}
	if err != nil {
		t.Fatalf("apply before the kill: got %v, want it running or done\n%s", err, last)
	}
	return false, last
}

// checkNoDuplicates checks that every managed key is carried by exactly one
// room, which its alias names, and that every person has exactly one
// account, which logs in with the password of credentials.json.
func (s *provStack) checkNoDuplicates(t *testing.T, want *provWant) {
	t.Helper()
	ctx := context.Background()
	svc := s.connect(t, s.cfg)
	rooms := map[string][]id.RoomID{} // key -> rooms carrying it
	seen := map[id.RoomID]bool{}
	for _, hs := range s.state.Homeservers {
		cli := provServiceClient(t, svc, hs.Name)
		joined, err := cli.JoinedRooms(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, rid := range joined.JoinedRooms {
			if seen[rid] {
				continue
			}
			seen[rid] = true
			var marker struct {
				Key string `json:"key"`
			}
			err := cli.StateEvent(ctx, rid, event.Type{Type: "de.landesmessenger.managed", Class: event.StateEventType}, "", &marker)
			if err != nil && strings.Contains(err.Error(), "M_NOT_FOUND") {
				continue
			} else if err != nil {
				t.Fatalf("marker of %s: %v", rid, err)
			}
			rooms[marker.Key] = append(rooms[marker.Key], rid)
		}
	}
	for key, hs := range want.rooms {
		got := rooms[key]
		if len(got) != 1 {
			t.Errorf("rooms carrying the key %s: got %d %v, want 1", key, len(got), got)
			continue
		}
		cli := provServiceClient(t, svc, hs)
		if rid := provResolve(t, cli, s.alias(t, key, hs)); rid != got[0] {
			t.Errorf("alias %s: got %s, want %s", s.alias(t, key, hs), rid, got[0])
		}
	}
	for key, got := range rooms {
		if _, ok := want.rooms[key]; !ok {
			t.Errorf("room key %s (%v): got a managed room, want none", key, got)
		}
	}
	_ = svc.Stop()

	creds := s.credentials(t)
	var users []string
	for u := range creds {
		users = append(users, u)
	}
	sort.Strings(users)
	if !slices.Equal(users, want.users) {
		t.Errorf("credentials.json: got %d entries, want one per person (%d):\n%s", len(users), len(want.users), provDiff(users, want.users))
	}
	for _, u := range users {
		uid := id.UserID(u)
		cli, err := s.login(ctx, s.hostOf(t, uid), uid, creds[u])
		if err != nil {
			t.Errorf("log in as %s: got %v, want a session", u, err)
			continue
		}
		_, _ = cli.Logout(ctx)
	}
}

// hostOf returns the homeserver name of a user ID of the stack.
func (s *provStack) hostOf(t *testing.T, user id.UserID) string {
	t.Helper()
	for _, hs := range s.state.Homeservers {
		if hs.ServerName == user.Homeserver() {
			return hs.Name
		}
	}
	t.Fatalf("user %s: not on the stack", user)
	return ""
}
