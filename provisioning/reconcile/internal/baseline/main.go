// Command baseline is the yardstick of the provisioning benchmark
// (scripts/bench-provisioning.sh); it is not part of the product.
//
//	baseline gen -dir DIR [-people N] [-rooms N] [-concurrency N]
//	    writes DIR/config.yaml and DIR/directory.yaml: a synthetic Land on
//	    the four homeservers of the local stack in $LM_STACK_DIR
//	baseline run -c CONFIG
//	    makes the homeservers of a fresh stack match CONFIG the plainest
//	    way: it plans once against empty homeservers and issues the same
//	    homeserver requests as `landesmessenger apply` for each action, phase
//	    by phase with the same concurrency per homeserver, but reads nothing
//	    back, records nothing (no database, no credentials file) and does
//	    not retry
//	baseline noop -c CONFIG
//	    runs one reconcile in-process as `apply` does and reports its time
//	    and the read and write requests it made
//
// run and noop print one line of JSON on standard output.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/sirupsen/logrus"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"
	"maunium.net/go/mautrix/synapseadmin"

	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/homeserver"
	"github.com/landesmessenger/landesmessenger/provisioning"
	"github.com/landesmessenger/landesmessenger/provisioning/internal/synth"
	"github.com/landesmessenger/landesmessenger/provisioning/reconcile"
	"github.com/landesmessenger/landesmessenger/service"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: baseline gen|run|noop ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(os.Args[2:])
	case "run":
		err = run(os.Args[2:])
	case "noop":
		err = noop(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
}

func gen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	dir := fs.String("dir", "", "output folder")
	people := fs.Int("people", 2000, "people in the directory")
	rooms := fs.Int("rooms", 200, "rooms and spaces in total")
	conc := fs.Int("concurrency", 4, "provisioning.concurrency")
	_ = fs.Parse(args)
	if *dir == "" {
		return errors.New("gen: -dir is required")
	}
	land, err := synth.Generate(synth.Spec{People: *people, Rooms: *rooms})
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return err
	}
	dirFile := filepath.Join(abs, "directory.yaml")
	cfg := land.Config(synth.Options{
		StackDir:        "${LM_STACK_DIR}",
		Database:        "sqlite:${LM_STACK_DIR}/landesmessenger.db",
		Directory:       dirFile,
		CredentialsFile: "${LM_STACK_DIR}/credentials.json",
		Concurrency:     *conc,
		LogLevel:        "warn",
	})
	if err := os.WriteFile(filepath.Join(abs, "config.yaml"), cfg, 0o644); err != nil {
		return err
	}
	return os.WriteFile(dirFile, land.Directory(), 0o644)
}

// report is what run and noop print.
type report struct {
	Seconds float64 `json:"seconds"`
	Actions int     `json:"actions"`
	Failed  int     `json:"failed"`
	Reads   int64   `json:"reads"`
	Writes  int64   `json:"writes"`
}

func printReport(r report) error {
	return json.NewEncoder(os.Stdout).Encode(r)
}

// noop runs one reconcile in-process, as `landesmessenger apply` does.
func noop(args []string) error {
	fs := flag.NewFlagSet("noop", flag.ExitOnError)
	cfgPath := fs.String("c", "", "configuration file")
	_ = fs.Parse(args)
	ctx := context.Background()
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	svc, err := service.Start(ctx, cfg, log, "bench")
	if err != nil {
		return err
	}
	defer svc.Stop()
	eng, err := svc.Provisioning()
	if err != nil {
		return err
	}
	reads, writes := svc.Reads(), svc.Writes()
	start := time.Now()
	out, res, err := svc.Reconcile(ctx, eng, false, nil)
	if err != nil {
		return err
	}
	r := report{Seconds: time.Since(start).Seconds(), Actions: len(out.Plan.Actions), Reads: svc.Reads() - reads, Writes: svc.Writes() - writes}
	if res != nil {
		r.Failed = res.Failed
	}
	return printReport(r)
}

// server is one connected homeserver of the baseline.
type server struct {
	conn   *homeserver.Conn
	target service.Target
}

// run is the baseline apply.
func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	cfgPath := fs.String("c", "", "configuration file")
	_ = fs.Parse(args)
	ctx := context.Background()
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	targets, err := service.Resolve(cfg)
	if err != nil {
		return err
	}
	servers := map[config.HomeserverName]*server{}
	env := provisioning.Environment{ServerNames: map[config.HomeserverName]string{}, Service: map[config.HomeserverName]id.UserID{}, RoomVersion: cfg.Provisioning.RoomVersion}
	allSynapse := true
	for _, t := range targets {
		conn, err := homeserver.Connect(ctx, t.Endpoint, t.Credentials, nil, zerolog.Nop())
		if err != nil {
			return err
		}
		if err := homeserver.ExemptFromRateLimits(ctx, conn); err != nil {
			return err
		}
		name := config.HomeserverName(t.Endpoint.Name)
		servers[name] = &server{conn: conn, target: t}
		env.ServerNames[name] = t.Endpoint.ServerName
		env.Service[name] = conn.Client.UserID
		allSynapse = allSynapse && conn.Implementation == homeserver.Synapse
	}
	if env.RoomVersion == "" && allSynapse {
		env.RoomVersion = "12" // as service.Provisioning chooses
	}
	people, _, err := reconcile.People(ctx, cfg)
	if err != nil {
		return err
	}
	want, err := provisioning.Build(cfg, people, env)
	if err != nil {
		return err
	}
	empty := &provisioning.Current{Accounts: map[id.UserID]*provisioning.CurrentAccount{}, Rooms: map[provisioning.RoomKey]*provisioning.CurrentRoom{}}
	plan, err := provisioning.Compute(empty, want, provisioning.Options{})
	if err != nil {
		return err
	}

	b := &baseline{servers: servers, rooms: map[provisioning.RoomKey]id.RoomID{}}
	start := time.Now()
	failed := b.apply(ctx, plan.Actions, max(1, cfg.Provisioning.Concurrency))
	r := report{Seconds: time.Since(start).Seconds(), Actions: len(plan.Actions), Failed: failed}
	for _, s := range servers {
		r.Reads += s.conn.Requests.Reads()
		r.Writes += s.conn.Requests.Writes()
	}
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "baseline: %d of %d actions failed, first: %v\n", failed, len(plan.Actions), b.firstErr)
	}
	return printReport(r)
}

type baseline struct {
	servers  map[config.HomeserverName]*server
	mu       sync.Mutex
	rooms    map[provisioning.RoomKey]id.RoomID
	firstErr error
}

// apply runs actions phase by phase; within a phase each homeserver has
// its own concurrency workers taking its actions in order.
func (b *baseline) apply(ctx context.Context, actions []provisioning.Action, concurrency int) int {
	failed := 0
	for len(actions) > 0 {
		ph := actions[0].Phase()
		n := 0
		for n < len(actions) && actions[n].Phase() == ph {
			n++
		}
		queues := map[config.HomeserverName][]provisioning.Action{}
		for _, a := range actions[:n] {
			_, hs := a.Scope()
			queues[hs] = append(queues[hs], a)
		}
		actions = actions[n:]
		var wg sync.WaitGroup
		for _, q := range queues {
			next := make(chan provisioning.Action)
			for range concurrency {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for a := range next {
						if err := b.do(ctx, a); err != nil {
							b.mu.Lock()
							failed++
							if b.firstErr == nil {
								b.firstErr = fmt.Errorf("%s: %w", provisioning.Describe(a), err)
							}
							b.mu.Unlock()
						}
					}
				}()
			}
			go func() {
				for _, a := range q {
					next <- a
				}
				close(next)
			}()
		}
		wg.Wait()
	}
	return failed
}

func (b *baseline) room(key provisioning.RoomKey) id.RoomID {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rooms[key]
}

// do issues the requests of one action. They are the requests the applier
// and package homeserver make for it on a fresh homeserver.
func (b *baseline) do(ctx context.Context, a provisioning.Action) error {
	_, name := a.Scope()
	s := b.servers[name]
	cli := s.conn.Client
	switch a := a.(type) {
	case provisioning.CreateAccount:
		return s.createAccount(ctx, a)
	case provisioning.CreateRoom:
		var resp mautrix.RespCreateRoom
		if _, err := cli.MakeRequest(ctx, http.MethodPost, cli.BuildClientURL("v3", "createRoom"), createRoomBody(a), &resp); err != nil {
			return err
		}
		b.mu.Lock()
		b.rooms[a.Room] = resp.RoomID
		b.mu.Unlock()
		return nil
	case provisioning.SetSpaceChild:
		_, err := cli.MakeRequest(ctx, http.MethodPut, cli.BuildClientURL("v3", "rooms", b.room(a.Space), "state", "m.space.child", b.room(a.Child)),
			map[string]any{"via": []string{a.Via}}, nil)
		return err
	case provisioning.JoinRoom:
		rid := b.room(a.Room)
		if a.Host == a.Homeserver {
			return s.join(ctx, rid, a.User)
		}
		host := b.servers[a.Host]
		if _, err := host.conn.Client.InviteUser(ctx, rid, &mautrix.ReqInviteUser{UserID: a.User}); err != nil {
			return err
		}
		return s.joinRemote(ctx, rid, a.User, []string{host.conn.Endpoint.ServerName})
	}
	return fmt.Errorf("the baseline does not do %s", a.Kind())
}

// client returns a client on s sharing the service account's HTTP client
// (and so its request counter).
func (s *server) client(user id.UserID, token string, masquerade bool) *mautrix.Client {
	c := s.conn.Client
	return &mautrix.Client{HomeserverURL: c.HomeserverURL, UserAgent: c.UserAgent, Client: c.Client, Log: c.Log,
		UserID: user, AccessToken: token, SetAppServiceUserID: masquerade}
}

func (s *server) adminURL(path ...any) string {
	return s.conn.Client.BuildURL(mautrix.SynapseAdminURLPath(path))
}

func password() string {
	buf := make([]byte, 15)
	_, _ = rand.Read(buf)
	return base64.RawURLEncoding.EncodeToString(buf)
}

func (s *server) createAccount(ctx context.Context, a provisioning.CreateAccount) error {
	localpart, _, err := a.User.Parse()
	if err != nil {
		return err
	}
	cli := s.conn.Client
	if s.conn.Implementation == homeserver.Synapse {
		// Look up first (a PUT on an existing account changes its password), then create.
		_, err := cli.MakeRequest(ctx, http.MethodGet, s.adminURL("v2", "users", a.User), nil, nil)
		if !errors.Is(err, mautrix.MNotFound) {
			return fmt.Errorf("account %s exists or lookup failed: %v", a.User, err)
		}
		body := map[string]string{"password": password(), "displayname": a.DisplayName}
		_, err = cli.MakeRequest(ctx, http.MethodPut, s.adminURL("v2", "users", a.User), body, nil)
		return err
	}
	// Dendrite: shared-secret registration, then log out its device.
	adm := synapseadmin.Client{Client: s.client("", "", false)}
	nonce, err := adm.GetRegisterNonce(ctx)
	if err != nil {
		return err
	}
	req := synapseadmin.ReqSharedSecretRegister{Username: localpart, Password: password(), Displayname: a.DisplayName, Nonce: nonce}
	req.SHA1Checksum = req.Sign(s.target.Admin.RegistrationSharedSecret)
	var resp mautrix.RespRegister
	if _, err := adm.Client.MakeRequest(ctx, http.MethodPost, adm.BuildAdminURL("v1", "register"), &req, &resp); err != nil {
		return err
	}
	_, err = s.client(a.User, resp.AccessToken, false).Logout(ctx)
	return err
}

// join joins a local user to a room of its own homeserver, with the
// membership and account checks the applier makes.
func (s *server) join(ctx context.Context, rid id.RoomID, user id.UserID) error {
	cli := s.conn.Client
	memberURL := cli.BuildClientURL("v3", "rooms", rid, "state", "m.room.member", user.String())
	if _, err := cli.MakeRequest(ctx, http.MethodGet, memberURL, nil, nil); !errors.Is(err, mautrix.MNotFound) {
		return fmt.Errorf("membership of %s: %v", user, err)
	}
	if s.conn.Implementation == homeserver.Synapse {
		if _, err := cli.MakeRequest(ctx, http.MethodGet, s.adminURL("v2", "users", user), nil, nil); err != nil {
			return err
		}
		_, err := cli.MakeRequest(ctx, http.MethodPost, s.adminURL("v1", "join", rid), map[string]id.UserID{"user_id": user}, nil)
		return err
	}
	if _, err := cli.GetProfile(ctx, user); err != nil {
		return err
	}
	as := s.client(user, s.target.Admin.AppserviceToken, true)
	var marker json.RawMessage
	if err := as.GetAccountData(ctx, homeserver.DeactivationMarkerType, &marker); !errors.Is(err, mautrix.MNotFound) {
		return fmt.Errorf("deactivation marker of %s: %v", user, err)
	}
	if _, err := cli.InviteUser(ctx, rid, &mautrix.ReqInviteUser{UserID: user}); err != nil {
		return err
	}
	_, err := as.JoinRoomByID(ctx, rid)
	return err
}

// joinRemote joins a local user to a room on another homeserver that
// invited them.
func (s *server) joinRemote(ctx context.Context, rid id.RoomID, user id.UserID, via []string) error {
	if s.conn.Implementation != homeserver.Synapse {
		_, err := s.client(user, s.target.Admin.AppserviceToken, true).JoinRoom(ctx, rid.String(), &mautrix.ReqJoinRoom{Via: via})
		return err
	}
	var login struct {
		AccessToken string `json:"access_token"`
	}
	body := map[string]int64{"valid_until_ms": time.Now().Add(2 * time.Minute).UnixMilli()}
	if _, err := s.conn.Client.MakeRequest(ctx, http.MethodPost, s.adminURL("v1", "users", user, "login"), body, &login); err != nil {
		return err
	}
	cli := s.client(user, login.AccessToken, false)
	_, err := cli.JoinRoom(ctx, rid.String(), &mautrix.ReqJoinRoom{Via: via})
	_, _ = cli.Logout(ctx)
	return err
}

// createRoomBody is the createRoom request the applier sends for a.
func createRoomBody(a provisioning.CreateRoom) map[string]any {
	creation := map[string]any{"m.federate": a.Federate}
	if a.Space {
		creation["type"] = "m.space"
	}
	st := a.State
	state := []map[string]any{
		{"type": "m.room.encryption", "state_key": "", "content": provisioning.EncryptionContent{Algorithm: st.Encryption}},
		{"type": "m.room.join_rules", "state_key": "", "content": provisioning.JoinRulesContent{JoinRule: st.JoinRule}},
		{"type": "m.room.history_visibility", "state_key": "", "content": provisioning.HistoryVisibilityContent{HistoryVisibility: st.HistoryVisibility}},
		{"type": "m.room.guest_access", "state_key": "", "content": provisioning.GuestAccessContent{GuestAccess: st.GuestAccess}},
		{"type": provisioning.MarkerEventType, "state_key": "", "content": provisioning.Marker{Key: a.Room, Tenant: a.Tenant}},
	}
	if st.ServerACL != nil {
		state = append(state, map[string]any{"type": "m.room.server_acl", "state_key": "", "content": st.ServerACL})
	}
	body := map[string]any{
		"preset": "private_chat", "visibility": "private", "room_alias_name": a.Alias,
		"creation_content": creation, "initial_state": state,
	}
	if st.Name != "" {
		body["name"] = st.Name
	}
	if st.Topic != "" {
		body["topic"] = st.Topic
	}
	if a.Version != "" {
		body["room_version"] = a.Version
	}
	if st.PowerLevels != nil {
		body["power_level_content_override"] = st.PowerLevels
	}
	return body
}
