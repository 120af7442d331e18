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
// bare IP literal and server ACLs (which ignore ports) tell servers apart.
const (
	clientPort     = 8008
	federationPort = 8448
	postgresPort   = 5432
)

// Options says what stack to start.
type Options struct {
	// Dir holds the stack's state, keys, databases and logs.
	Dir string
	// Kind is the homeserver implementation.
	Kind Kind
	// Homeservers are the names of the homeservers to run, from the config.
	Homeservers []string
	// ServiceLocalpart is the localpart of the admin account made on every
	// server for Landesmessenger; "landesmessenger" if empty.
	ServiceLocalpart string
	// Log receives progress.
	Log logrus.FieldLogger
}

// serverLayout is where one server lives on disk and on the network.
type serverLayout struct {
	name, dir, ip, serverName   string
	tlsCert, tlsKey, signingKey string
	sharedSecretFile, logFile   string
	// appserviceTokenFile holds the as_token of the stack's appservice
	// (Dendrite only; set by startDendrite).
	appserviceTokenFile string
}

func (s *serverLayout) clientAddr() string {
	return net.JoinHostPort(s.ip, strconv.Itoa(clientPort))
}

func (s *serverLayout) federationAddr() string {
	return net.JoinHostPort(s.ip, strconv.Itoa(federationPort))
}

// network is the stack's loopback subnet 127.A.B.0/24, kept in
// DIR/KIND/network.json so server names stay the same across restarts.
type network struct {
	Prefix string `json:"prefix"` // "127.A.B"
}

func (n network) host(i int) string { return fmt.Sprintf("%s.%d", n.Prefix, i) }

// postgres is at .9, homeservers from .10 on.
func (n network) postgresIP() string    { return n.host(9) }
func (n network) serverIP(i int) string { return n.host(10 + i) }

func (n network) free(count int, kind Kind) bool {
	for i := 0; i < count; i++ {
		if !portFree(net.JoinHostPort(n.serverIP(i), strconv.Itoa(clientPort))) ||
			!portFree(net.JoinHostPort(n.serverIP(i), strconv.Itoa(federationPort))) {
			return false
		}
	}
	return kind != Synapse || portFree(net.JoinHostPort(n.postgresIP(), strconv.Itoa(postgresPort)))
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:6])
}

// allocateNetwork returns the stack's subnet: the one it had before, else a
// free one derived from the directory's path, so that stacks in different
// directories (the demo, parallel tests) do not collide.
func allocateNetwork(kindDir string, count int, kind Kind) (network, error) {
	file := filepath.Join(kindDir, "network.json")
	if data, err := os.ReadFile(file); err == nil {
		var n network
		if err := json.Unmarshal(data, &n); err != nil {
			return n, fmt.Errorf("%s: %w", file, err)
		}
		if !n.free(count, kind) {
			return n, fmt.Errorf("the addresses of this stack (%s.0/24) are in use: is it running already, or another program on them?", n.Prefix)
		}
		return n, nil
	}
	sum := sha256.Sum256([]byte(kindDir))
	seed := binary.BigEndian.Uint32(sum[:4])
	for try := uint32(0); try < 64; try++ {
		v := seed + try*7919
		n := network{Prefix: fmt.Sprintf("127.%d.%d", 16+v%200, (v>>8)%256)}
		if n.free(count, kind) {
			data, _ := json.Marshal(n)
			return n, os.WriteFile(file, data, 0o644)
		}
	}
	return network{}, errors.New("no free loopback subnet found for the stack")
}

// Up starts the stack described by opts and returns its state, also written
// to DIR/stack.json. It installs what is missing into the cache folder first.
// If the stack is already running it is left as it is. On failure every
// process it started is stopped again, and the error names the server that
// failed with the tail of its log.
func Up(ctx context.Context, opts Options) (*State, error) {
	if len(opts.Homeservers) == 0 {
		return nil, errors.New("no homeservers to start")
	}
	if opts.ServiceLocalpart == "" {
		opts.ServiceLocalpart = "landesmessenger"
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create stack folder: %w", err)
	}
	if st, err := Load(dir); err == nil {
		running := st.running()
		switch {
		case running == len(st.Homeservers) && st.Kind == opts.Kind:
			opts.Log.WithField("dir", dir).Info("stack already running")
			return st, nil
		case running > 0:
			return nil, fmt.Errorf("a %s stack partly runs in %s (%d of %d servers): run `landesmessenger stack down` first", st.Kind, dir, running, len(st.Homeservers))
		}
	}

	var exe string
	switch opts.Kind {
	case Dendrite:
		exe, err = EnsureDendrite(ctx, opts.Log)
	case Synapse:
		exe, err = EnsureSynapse(ctx, opts.Log)
	default:
		err = fmt.Errorf("unknown homeserver kind %q", opts.Kind)
	}
	if err != nil {
		return nil, err
	}

	kindDir := filepath.Join(dir, string(opts.Kind))
	if err := os.MkdirAll(kindDir, 0o755); err != nil {
		return nil, err
	}
	nw, err := allocateNetwork(kindDir, len(opts.Homeservers), opts.Kind)
	if err != nil {
		return nil, err
	}
	st := &State{Kind: opts.Kind, Dir: dir}
	fail := func(err error) (*State, error) {
		if derr := st.stop(opts.Log); derr != nil {
			opts.Log.WithError(derr).Warn("cleaning up after a failed start")
		}
		os.Remove(filepath.Join(dir, StateFile))
		return nil, err
	}

	var pgPassword string
	if opts.Kind == Synapse {
		dbs := make([]string, len(opts.Homeservers))
		for i, name := range opts.Homeservers {
			dbs[i] = synapseDatabase(name)
		}
		pg, err := StartPostgres(ctx, opts.Log, kindDir, nw.postgresIP(), postgresPort, dbs)
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
	layouts := make([]*serverLayout, len(opts.Homeservers))
	for i, name := range opts.Homeservers {
		l, err := prepareServer(kindDir, name, nw.serverIP(i), opts.Kind)
		if err != nil {
			return fail(fmt.Errorf("prepare %s: %w", name, err))
		}
		layouts[i] = l
		secret, err := readTrimmed(l.sharedSecretFile)
		if err != nil {
			return fail(err)
		}
		var p *process
		if opts.Kind == Dendrite {
			p, err = startDendrite(exe, l, secret)
		} else {
			p, err = startSynapse(exe, l, st.Postgres, pgPassword)
		}
		if err != nil {
			return fail(err)
		}
		procs[i] = p
		st.Homeservers = append(st.Homeservers, Server{
			Name:                         name,
			ServerName:                   l.serverName,
			ClientURL:                    "http://" + l.clientAddr(),
			FederationURL:                "https://" + l.federationAddr(),
			RegistrationSharedSecretFile: l.sharedSecretFile,
			ServiceUserID:                fmt.Sprintf("@%s:%s", opts.ServiceLocalpart, l.serverName),
			ServicePasswordFile:          filepath.Join(l.dir, "service.password"),
			AppserviceTokenFile:          l.appserviceTokenFile,
			PID:                          p.pid,
			LogFile:                      l.logFile,
		})
		// Saved after every start, so `stack down` finds what a crashed
		// `stack up` left behind.
		if err := st.save(dir); err != nil {
			return fail(err)
		}
	}

	timeout := 60 * time.Second
	if opts.Kind == Synapse {
		timeout = 180 * time.Second
	}
	errs := make([]error, len(procs))
	var wg sync.WaitGroup
	for i, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.waitHTTP(ctx, st.Homeservers[i].ClientURL+"/_matrix/client/versions", timeout)
			if errs[i] == nil {
				errs[i] = ensureServiceAccount(ctx, &st.Homeservers[i], opts.ServiceLocalpart)
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

// prepareServer makes the folder, keys, certificate and shared secret of one
// server, keeping those made before.
func prepareServer(kindDir, name, ip string, kind Kind) (*serverLayout, error) {
	d := filepath.Join(kindDir, name)
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

// procName is what the command line of a server process of this kind contains.
func (s *State) procName() string {
	if s.Kind == Synapse {
		return "synapse.app.homeserver"
	}
	return "dendrite"
}

// running counts the homeservers whose process runs.
func (s *State) running() int {
	n := 0
	for _, hs := range s.Homeservers {
		if alive(hs.PID, s.procName()) {
			n++
		}
	}
	return n
}

// stop stops every process of the state: homeservers first, then PostgreSQL.
func (s *State) stop(log logrus.FieldLogger) error {
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, hs := range s.Homeservers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := stopPID(hs.PID, s.procName(), 20*time.Second); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("stop %s: %w", hs.Name, err))
				mu.Unlock()
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

// Status reports which processes of the stack in dir run.
func Status(dir string) (*State, []ServerStatus, error) {
	st, err := Load(dir)
	if err != nil {
		return nil, nil, err
	}
	var out []ServerStatus
	if pg := st.Postgres; pg != nil {
		out = append(out, ServerStatus{Name: "postgres", URL: fmt.Sprintf("%s:%d", pg.Host, pg.Port), PID: pg.PID, Running: alive(pg.PID, "postgres")})
	}
	for _, hs := range st.Homeservers {
		out = append(out, ServerStatus{Name: hs.Name, URL: hs.ClientURL, PID: hs.PID, Running: alive(hs.PID, st.procName())})
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
	for _, d := range []string{abs, filepath.Join(abs, string(Dendrite)), filepath.Join(abs, string(Synapse))} {
		outside := filepath.Join(os.TempDir(), "landesmessenger-pg-"+shortHash(d))
		if err := os.RemoveAll(outside); err != nil {
			return err
		}
	}
	return os.RemoveAll(abs)
}
