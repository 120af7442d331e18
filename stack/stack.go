package stack

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/landesmessenger/landesmessenger/homeserver"
)

// Ports every stack server listens on, each server on a loopback address of
// its own. Federation uses the Matrix default port, so a server name is a
// bare IP literal and server ACLs (which ignore ports) tell servers apart. A
// server behind a federation gate listens for federation on
// gatedFederationPort, and the gate on federationPort.
const (
	clientPort          = 8008
	federationPort      = 8448
	gatedFederationPort = 8449
	postgresPort        = 5432
)

// Options says what stack to start.
type Options struct {
	// Dir holds the stack's state, keys, databases and logs.
	Dir string
	// Kind is the homeserver implementation of every server not in Kinds.
	Kind Kind
	// Kinds overrides Kind per homeserver name, e.g. {"land": Synapse}.
	Kinds map[string]Kind
	// Homeservers are the names of the homeservers to run, from the config.
	Homeservers []string
	// ServiceLocalpart is the localpart of the admin account made on every
	// server for Landesmessenger; "landesmessenger" if empty.
	ServiceLocalpart string
	// Federation, if set, is called once the servers' names are known (after the
	// network is allocated, before any server starts) with homeserver name -> Matrix
	// server name, and returns the federation settings of each homeserver
	// (a missing name means no restriction).
	Federation func(serverNames map[string]string) (map[string]FederationSettings, error)
	// GateArgs is the command of the federation gate (argv, e.g. [exe "federation" "gate" "--list" F "--public-key" P]);
	// the stack appends --listen IP:8448 --upstream https://IP:8449 --tls-cert C --tls-key K --server-name S.
	GateArgs []string
	// Appservices, if set, is called like Federation and returns, by
	// homeserver name, further appservice registration files the server
	// loads (the school bridge's); the files must exist when it returns.
	Appservices func(serverNames map[string]string) (map[string][]string, error)
	// Log receives progress.
	Log logrus.FieldLogger
}

// serverKinds returns the kind of every homeserver of o by name, and the
// stack's kind: the kind all servers share, else Mixed.
func (o *Options) serverKinds() (map[string]Kind, Kind, error) {
	kinds := make(map[string]Kind, len(o.Homeservers))
	for _, name := range o.Homeservers {
		kinds[name] = o.Kind
	}
	for name, k := range o.Kinds {
		if _, ok := kinds[name]; !ok {
			return nil, "", fmt.Errorf("homeserver kind given for %q, which is not a homeserver of the stack", name)
		}
		kinds[name] = k
	}
	var stackKind Kind
	for _, name := range o.Homeservers {
		k := kinds[name]
		if k != Dendrite && k != Synapse {
			return nil, "", fmt.Errorf("homeserver %s: unknown homeserver kind %q", name, k)
		}
		if stackKind == "" {
			stackKind = k
		} else if stackKind != k {
			stackKind = Mixed
		}
	}
	return kinds, stackKind, nil
}

// serverLayout is where one server lives on disk and on the network.
type serverLayout struct {
	name, dir, ip, serverName   string
	tlsCert, tlsKey, signingKey string
	sharedSecretFile, logFile   string
	// appserviceTokenFile holds the as_token of the stack's appservice
	// (Dendrite only; set by startDendrite).
	appserviceTokenFile string
	// fed is what applies of the server's federation settings; nil means
	// no restriction.
	fed *FederationSettings
	// roomVersion, if set, is the version of the rooms the server creates
	// (Synapse only; see dendriteRoomVersion).
	roomVersion string
	// appservices are further appservice registration files to load.
	appservices []string
}

func (s *serverLayout) clientAddr() string {
	return net.JoinHostPort(s.ip, strconv.Itoa(clientPort))
}

// federationAddr is the server's public federation address.
func (s *serverLayout) federationAddr() string {
	return net.JoinHostPort(s.ip, strconv.Itoa(federationPort))
}

// gated reports whether a federation gate stands in front of the server.
func (s *serverLayout) gated() bool { return s.fed != nil && s.fed.Gate }

// federationOff reports whether the server does not federate at all.
func (s *serverLayout) federationOff() bool { return s.fed != nil && s.fed.DisableFederation }

// federationListenAddr is where the homeserver itself listens for
// federation: behind the gate when it has one.
func (s *serverLayout) federationListenAddr() string {
	if s.gated() {
		return net.JoinHostPort(s.ip, strconv.Itoa(gatedFederationPort))
	}
	return s.federationAddr()
}

func (s *serverLayout) gateLogFile() string { return filepath.Join(s.dir, "gate.log") }

// network is the stack's loopback subnet 127.A.B.0/24, kept in
// DIR/KIND/network.json so server names stay the same across restarts.
type network struct {
	Prefix string `json:"prefix"` // "127.A.B"
}

func (n network) host(i int) string { return fmt.Sprintf("%s.%d", n.Prefix, i) }

// postgres is at .9, homeservers from .10 on.
func (n network) postgresIP() string    { return n.host(9) }
func (n network) serverIP(i int) string { return n.host(10 + i) }

// free reports whether count servers (with a gate or not) and, if
// withPostgres, PostgreSQL can listen on n now.
func (n network) free(count int, withPostgres bool) bool {
	for i := 0; i < count; i++ {
		for _, port := range []int{clientPort, federationPort, gatedFederationPort} {
			if !portFree(net.JoinHostPort(n.serverIP(i), strconv.Itoa(port))) {
				return false
			}
		}
	}
	return !withPostgres || portFree(net.JoinHostPort(n.postgresIP(), strconv.Itoa(postgresPort)))
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:6])
}

// allocateNetwork returns the stack's subnet: the one it had before, else a
// free one derived from the directory's path, so that stacks in different
// directories (the demo, parallel tests) do not collide.
func allocateNetwork(kindDir string, count int, withPostgres bool) (network, error) {
	file := filepath.Join(kindDir, "network.json")
	if data, err := os.ReadFile(file); err == nil {
		var n network
		if err := json.Unmarshal(data, &n); err != nil {
			return n, fmt.Errorf("%s: %w", file, err)
		}
		if !n.free(count, withPostgres) {
			return n, fmt.Errorf("the addresses of this stack (%s.0/24) are in use: is it running already, or another program on them?", n.Prefix)
		}
		return n, nil
	}
	sum := sha256.Sum256([]byte(kindDir))
	seed := binary.BigEndian.Uint32(sum[:4])
	for try := uint32(0); try < 64; try++ {
		v := seed + try*7919
		n := network{Prefix: fmt.Sprintf("127.%d.%d", 16+v%200, (v>>8)%256)}
		if n.free(count, withPostgres) {
			data, _ := json.Marshal(n)
			return n, os.WriteFile(file, data, 0o644)
		}
	}
	return network{}, errors.New("no free loopback subnet found for the stack")
}

// serversDir is the folder of the servers of kind in a stack of stackKind
// whose files live in kindDir (DIR/KIND): kindDir itself, or for a mixed
// stack a folder per kind, so that a server whose kind changes between runs
// never finds the other kind's keys and databases.
func serversDir(kindDir string, stackKind, kind Kind) string {
	if stackKind == Mixed {
		return filepath.Join(kindDir, string(kind))
	}
	return kindDir
}

// Up starts the stack described by opts and returns its state, also written
// to DIR/stack.json. It installs what is missing into the cache folder first.
// If the stack is already running with the same servers of the same kinds it
// is left as it is. On failure every process it started is stopped again,
// and the error names the server that failed with the tail of its log.
//
// A stack of one kind lives in DIR/KIND, a mixed one in DIR/mixed/KIND; a
// server's files are in the folder of its name below that. PostgreSQL runs
// when any server is a Synapse, with a database for each of them.
func Up(ctx context.Context, opts Options) (*State, error) {
	if len(opts.Homeservers) == 0 {
		return nil, errors.New("no homeservers to start")
	}
	if opts.ServiceLocalpart == "" {
		opts.ServiceLocalpart = "landesmessenger"
	}
	kinds, stackKind, err := opts.serverKinds()
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create stack folder: %w", err)
	}
	if st, err := Load(dir); err == nil {
		up, anyAlive := st.running()
		switch {
		case up == len(st.Homeservers) && st.hasKinds(opts.Homeservers, kinds):
			opts.Log.WithField("dir", dir).Info("stack already running")
			return st, nil
		case up == len(st.Homeservers):
			return nil, fmt.Errorf("a %s stack with other homeservers or kinds runs in %s: run `landesmessenger stack down` first", st.Kind, dir)
		case anyAlive:
			return nil, fmt.Errorf("a %s stack partly runs in %s (%d of %d servers): run `landesmessenger stack down` first", st.Kind, dir, up, len(st.Homeservers))
		}
	}

	// Only what the stack runs is installed: Dendrite, Synapse or both.
	exes := make(map[Kind]string)
	for _, name := range opts.Homeservers {
		k := kinds[name]
		if _, done := exes[k]; done {
			continue
		}
		install := EnsureDendrite
		if k == Synapse {
			install = EnsureSynapse
		}
		if exes[k], err = install(ctx, opts.Log); err != nil {
			return nil, err
		}
	}
	_, withPostgres := exes[Synapse]

	kindDir := filepath.Join(dir, string(stackKind))
	if err := os.MkdirAll(kindDir, 0o755); err != nil {
		return nil, err
	}
	nw, err := allocateNetwork(kindDir, len(opts.Homeservers), withPostgres)
	if err != nil {
		return nil, err
	}
	serverNames := make(map[string]string, len(opts.Homeservers))
	for i, name := range opts.Homeservers {
		serverNames[name] = nw.serverIP(i)
	}
	var appservices map[string][]string
	if opts.Appservices != nil {
		if appservices, err = opts.Appservices(serverNames); err != nil {
			return nil, fmt.Errorf("appservice registrations: %w", err)
		}
	}
	fed, err := federationSettings(&opts, serverNames, kinds)
	if err != nil {
		return nil, err
	}

	st := &State{Kind: stackKind, Dir: dir}
	fail := func(err error) (*State, error) {
		if derr := st.stop(opts.Log); derr != nil {
			opts.Log.WithError(derr).Warn("cleaning up after a failed start")
		}
		os.Remove(filepath.Join(dir, StateFile))
		return nil, err
	}

	var pgPassword string
	if withPostgres {
		var dbs []string
		for _, name := range opts.Homeservers {
			if kinds[name] == Synapse {
				dbs = append(dbs, synapseDatabase(name))
			}
		}
		pgDir := serversDir(kindDir, stackKind, Synapse)
		if err := os.MkdirAll(pgDir, 0o755); err != nil {
			return fail(err)
		}
		pg, err := StartPostgres(ctx, opts.Log, pgDir, nw.postgresIP(), postgresPort, dbs)
		st.Postgres = pg
		if err != nil {
			return fail(err)
		}
		if err := st.save(dir); err != nil {
			return fail(err)
		}
		if pgPassword, err = readTrimmed(pg.PasswordFile); err != nil {
			return fail(err)
		}
	}

	procs := make([]*process, len(opts.Homeservers))
	gates := make([]*process, len(opts.Homeservers))
	layouts := make([]*serverLayout, len(opts.Homeservers))
	for i, name := range opts.Homeservers {
		kind := kinds[name]
		l, err := prepareServer(serversDir(kindDir, stackKind, kind), name, serverNames[name], kind)
		if err != nil {
			return fail(fmt.Errorf("prepare %s: %w", name, err))
		}
		layouts[i], l.fed, l.appservices = l, fed[name], appservices[name]
		if _, withDendrite := exes[Dendrite]; withDendrite && kind == Synapse {
			l.roomVersion = dendriteRoomVersion
		}
		var p *process
		if kind == Dendrite {
			p, err = startDendrite(exes[kind], l)
		} else {
			p, err = startSynapse(exes[kind], l, st.Postgres, pgPassword)
		}
		if err != nil {
			return fail(err)
		}
		procs[i] = p
		st.Homeservers = append(st.Homeservers, Server{
			Name:                         name,
			Kind:                         kind,
			ServerName:                   l.serverName,
			ClientURL:                    "http://" + l.clientAddr(),
			FederationURL:                "https://" + l.federationAddr(),
			RegistrationSharedSecretFile: l.sharedSecretFile,
			ServiceUserID:                fmt.Sprintf("@%s:%s", opts.ServiceLocalpart, l.serverName),
			ServicePasswordFile:          filepath.Join(l.dir, "service.password"),
			AppserviceTokenFile:          l.appserviceTokenFile,
			PID:                          p.pid,
			LogFile:                      l.logFile,
			Federation:                   l.fed,
		})
		if l.gated() {
			g, err := startGate(opts.GateArgs, l)
			if err != nil {
				return fail(err)
			}
			gates[i] = g
			hs := &st.Homeservers[i]
			hs.GatePID, hs.GateProgram, hs.GateLogFile = g.pid, gateProgram(opts.GateArgs), g.log
		}
		// Saved after every start, so `stack down` finds what a crashed
		// `stack up` left behind.
		if err := st.save(dir); err != nil {
			return fail(err)
		}
	}

	errs := make([]error, len(procs))
	var wg sync.WaitGroup
	for i, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hs := &st.Homeservers[i]
			if g := gates[i]; g != nil {
				if errs[i] = g.waitTCP(ctx, layouts[i].federationAddr(), 30*time.Second); errs[i] != nil {
					return
				}
			}
			errs[i] = p.waitHTTP(ctx, hs.ClientURL+"/_matrix/client/versions", startTimeout(hs.Kind))
			if errs[i] == nil && !layouts[i].federationOff() {
				// Federation answers through the gate before anything
				// federates: a server that other servers' first requests
				// find down makes them back off (docs/homeservers.md).
				front := p
				if g := gates[i]; g != nil {
					front = g
				}
				errs[i] = front.waitHTTP(ctx, hs.FederationURL+"/_matrix/federation/v1/version", 30*time.Second)
			}
			if errs[i] == nil {
				errs[i] = ensureServiceAccount(ctx, hs, opts.ServiceLocalpart)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fail(err)
	}
	if err := st.save(dir); err != nil {
		return fail(err)
	}
	return st, nil
}

// dendriteRoomVersion is the newest room version Dendrite v0.13.8 knows.
// Synapse creates rooms of a newer one by default (12, with room IDs
// without a server name), which Dendrite can neither join nor parse, so the
// Synapse servers of a stack with Dendrite servers create rooms of this one.
const dendriteRoomVersion = "11"

// startTimeout is how long a server of kind may take to answer after its
// start; Synapse on a fresh database migrates its schema first.
func startTimeout(kind Kind) time.Duration {
	if kind == Synapse {
		return 180 * time.Second
	}
	return 60 * time.Second
}

// prepareServer makes the folder, keys, certificate and shared secret of one
// server, keeping those made before.
func prepareServer(serversDir, name, ip string, kind Kind) (*serverLayout, error) {
	d := filepath.Join(serversDir, name)
	if err := os.MkdirAll(filepath.Join(d, "media"), 0o700); err != nil {
		return nil, err
	}
	l := &serverLayout{
		name: name, dir: d, ip: ip, serverName: ip,
		tlsCert:          filepath.Join(d, "tls.crt"),
		tlsKey:           filepath.Join(d, "tls.key"),
		signingKey:       filepath.Join(d, "signing.key"),
		sharedSecretFile: filepath.Join(d, "registration_shared_secret"),
		logFile:          filepath.Join(d, "homeserver.log"),
	}
	if err := writeTLSCert(l.tlsCert, l.tlsKey, net.ParseIP(ip)); err != nil {
		return nil, fmt.Errorf("tls certificate: %w", err)
	}
	if err := writeSigningKey(l.signingKey, kind); err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	if _, err := writeSecret(l.sharedSecretFile); err != nil {
		return nil, fmt.Errorf("shared secret: %w", err)
	}
	return l, nil
}

// ensureServiceAccount registers the server's admin account for
// Landesmessenger through shared-secret registration, once.
func ensureServiceAccount(ctx context.Context, s *Server, localpart string) error {
	if fileExists(s.ServicePasswordFile) {
		return nil
	}
	secret, err := readTrimmed(s.RegistrationSharedSecretFile)
	if err != nil {
		return err
	}
	tmp := s.ServicePasswordFile + ".new"
	os.Remove(tmp)
	password, err := writeSecret(tmp)
	if err != nil {
		return err
	}
	if _, err := homeserver.RegisterSharedSecret(ctx, s.ClientURL, secret, localpart, password, true); err != nil {
		return fmt.Errorf("register service account on %s: %w", s.Name, err)
	}
	return os.Rename(tmp, s.ServicePasswordFile)
}

func readTrimmed(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(data)), nil
}

// procName is what the command line of a server process of kind contains.
func procName(kind Kind) string {
	if kind == Synapse {
		return "synapse.app.homeserver"
	}
	return "dendrite"
}

// serverAlive reports whether the homeserver process of hs runs.
func (s *State) serverAlive(hs *Server) bool {
	return alive(hs.PID, procName(s.kindOf(hs)))
}

// gateAlive reports whether the federation gate of hs runs.
func gateAlive(hs *Server) bool {
	return hs.GatePID > 0 && hs.GateProgram != "" && alive(hs.GatePID, hs.GateProgram)
}

// running counts the homeservers whose processes (the server and its gate,
// if it has one) all run, and reports whether any process of the stack runs,
// PostgreSQL included.
func (s *State) running() (up int, anyAlive bool) {
	for i := range s.Homeservers {
		hs := &s.Homeservers[i]
		server, gate := s.serverAlive(hs), gateAlive(hs)
		if server && (hs.GatePID == 0 || gate) {
			up++
		}
		anyAlive = anyAlive || server || gate
	}
	if s.Postgres != nil && alive(s.Postgres.PID, "postgres") {
		anyAlive = true
	}
	return up, anyAlive
}

// hasKinds reports whether s has exactly the homeservers names, each of the
// kind kinds gives it.
func (s *State) hasKinds(names []string, kinds map[string]Kind) bool {
	if len(names) != len(s.Homeservers) {
		return false
	}
	for _, name := range names {
		hs, ok := s.Server(name)
		if !ok || s.kindOf(hs) != kinds[name] {
			return false
		}
	}
	return true
}

// stop stops every process of the state: each server's gate, then the
// server, then PostgreSQL.
func (s *State) stop(log logrus.FieldLogger) error {
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for i := range s.Homeservers {
		hs := &s.Homeservers[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			if hs.GatePID > 0 && hs.GateProgram != "" {
				if err := stopPID(hs.GatePID, hs.GateProgram, 10*time.Second); err != nil {
					failed(fmt.Errorf("stop the federation gate of %s: %w", hs.Name, err))
				}
			}
			if err := stopPID(hs.PID, procName(s.kindOf(hs)), 20*time.Second); err != nil {
				failed(fmt.Errorf("stop %s: %w", hs.Name, err))
			}
		}()
	}
	wg.Wait()
	if s.Postgres != nil && s.Postgres.PID > 0 {
		if err := s.Postgres.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop PostgreSQL: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Down stops every process of the stack in dir by PID and removes
// DIR/stack.json. Data (accounts, rooms, keys) stays for the next Up.
func Down(dir string, log logrus.FieldLogger) error {
	st, err := Load(dir)
	if errors.Is(err, ErrNoStack) {
		log.WithField("dir", dir).Info("no stack to stop")
		return nil
	} else if err != nil {
		return err
	}
	if err := st.stop(log); err != nil {
		return err
	}
	return os.Remove(filepath.Join(dir, StateFile))
}

// ServerStatus is what Status reports of one process.
type ServerStatus struct {
	Name    string
	URL     string
	PID     int
	Running bool
}

// Status reports which processes of the stack in dir run: PostgreSQL, each
// homeserver, and after it its federation gate, named NAME-gate.
func Status(dir string) (*State, []ServerStatus, error) {
	st, err := Load(dir)
	if err != nil {
		return nil, nil, err
	}
	var out []ServerStatus
	if pg := st.Postgres; pg != nil {
		out = append(out, ServerStatus{Name: "postgres", URL: fmt.Sprintf("%s:%d", pg.Host, pg.Port), PID: pg.PID, Running: alive(pg.PID, "postgres")})
	}
	for i := range st.Homeservers {
		hs := &st.Homeservers[i]
		out = append(out, ServerStatus{Name: hs.Name, URL: hs.ClientURL, PID: hs.PID, Running: st.serverAlive(hs)})
		if hs.GatePID > 0 {
			out = append(out, ServerStatus{Name: hs.Name + "-gate", URL: hs.FederationURL, PID: hs.GatePID, Running: gateAlive(hs)})
		}
	}
	return st, out, nil
}

// Purge stops the stack in dir like Down and then deletes all its data: the
// folder itself and a PostgreSQL cluster kept outside it.
func Purge(dir string, log logrus.FieldLogger) error {
	if err := Down(dir, log); err != nil {
		return err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for _, d := range []string{abs, filepath.Join(abs, string(Dendrite)), filepath.Join(abs, string(Synapse)),
		serversDir(filepath.Join(abs, string(Mixed)), Mixed, Synapse)} {
		outside := filepath.Join(os.TempDir(), "landesmessenger-pg-"+shortHash(d))
		if err := os.RemoveAll(outside); err != nil {
			return err
		}
	}
	return os.RemoveAll(abs)
}
