// Package stack runs a local stack of real Matrix homeservers on loopback: one
// homeserver per homeserver of the configuration, federating with each other
// over TLS with certificates made for the stack. Dendrite is the embedded
// default; Synapse on PostgreSQL is the production reference. A stack may mix
// both (Options.Kinds). The demo and every integration test run on such a
// stack.
//
// A stack lives in one directory. Up writes DIR/stack.json, which names every
// process it started; Down stops exactly those processes by PID.
package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Kind is the homeserver implementation a stack runs.
type Kind string

// The homeserver kinds a stack can run.
const (
	Dendrite Kind = "dendrite"
	Synapse  Kind = "synapse"
)

// Mixed is State.Kind of a stack whose servers are not all of one kind. It is
// never the kind of a server: ParseKind refuses it.
const Mixed Kind = "mixed"

// ParseKind returns the Kind named by s; the empty string means Dendrite.
func ParseKind(s string) (Kind, error) {
	switch Kind(s) {
	case Dendrite, Synapse:
		return Kind(s), nil
	case "":
		return Dendrite, nil
	}
	return "", fmt.Errorf("unknown homeserver kind %q (want dendrite or synapse)", s)
}

// ParseKinds parses the default kind def (see ParseKind) and per-homeserver
// overrides of the form NAME=KIND, for Options.Kind and Options.Kinds. The
// map is nil without overrides. Errors name the item at fault.
func ParseKinds(def string, overrides []string) (Kind, map[string]Kind, error) {
	kind, err := ParseKind(def)
	if err != nil {
		return "", nil, err
	}
	var kinds map[string]Kind
	for _, item := range overrides {
		name, value, ok := strings.Cut(item, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" || value == "" {
			return "", nil, fmt.Errorf("homeserver kind %q: want NAME=KIND, e.g. land=synapse", item)
		}
		k, err := ParseKind(value)
		if err != nil {
			return "", nil, fmt.Errorf("homeserver kind %q: %w", item, err)
		}
		if prev, dup := kinds[name]; dup && prev != k {
			return "", nil, fmt.Errorf("homeserver kind %q: %s is already given as %s", item, name, prev)
		}
		if kinds == nil {
			kinds = make(map[string]Kind)
		}
		kinds[name] = k
	}
	return kind, kinds, nil
}

// StateFile is the name of the file in the stack directory that describes a
// running stack.
const StateFile = "stack.json"

// State describes a stack: what runs, where, and which processes belong to it.
type State struct {
	// Kind is the kind of all servers, or Mixed when they differ.
	Kind        Kind      `json:"kind"`
	Homeservers []Server  `json:"homeservers"`
	Postgres    *Postgres `json:"postgres,omitempty"`
	Dir         string    `json:"dir"`
}

// Server is one homeserver of a stack.
type Server struct {
	// Name is the homeserver's name in the configuration, e.g. "land".
	Name string `json:"name"`
	// Kind is the server's implementation. Load fills it in from State.Kind
	// for files written before stacks could mix kinds.
	Kind Kind `json:"kind"`
	// ServerName is the Matrix server name, an IP literal on loopback.
	ServerName string `json:"server_name"`
	// ClientURL serves the client-server API over plain HTTP on loopback.
	ClientURL string `json:"client_url"`
	// FederationURL serves the server-server API over TLS: the server's own
	// listener, or its federation gate when it has one.
	FederationURL string `json:"federation_url"`
	// RegistrationSharedSecretFile holds the secret for shared-secret
	// registration (mode 0600).
	RegistrationSharedSecretFile string `json:"registration_shared_secret_file"`
	// ServiceUserID is the admin account the stack made for Landesmessenger.
	ServiceUserID string `json:"service_user_id"`
	// ServicePasswordFile holds that account's password (mode 0600).
	ServicePasswordFile string `json:"service_password_file"`
	// AppserviceTokenFile holds the as_token of the appservice through
	// which Landesmessenger acts as local users (mode 0600). Dendrite
	// only: it has no user admin API. Empty for Synapse.
	AppserviceTokenFile string `json:"appservice_token_file,omitempty"`
	// PID is the homeserver's process.
	PID int `json:"pid"`
	// LogFile receives the homeserver's output.
	LogFile string `json:"log_file"`
	// Federation is what was applied of the federation settings Up was
	// given for the server; nil without settings.
	Federation *FederationSettings `json:"federation,omitempty"`
	// GatePID is the process of the server's federation gate, 0 without one.
	GatePID int `json:"gate_pid,omitempty"`
	// GateProgram is the base name of the gate's program, which its command
	// line must contain for GatePID to count as the gate.
	GateProgram string `json:"gate_program,omitempty"`
	// GateLogFile receives the gate's output.
	GateLogFile string `json:"gate_log_file,omitempty"`
}

// Postgres is the PostgreSQL cluster the Synapse servers of a stack run on.
type Postgres struct {
	DataDir      string `json:"data_dir"`
	Host         string `json:"host"`
	Port         int    `json:"port"`
	User         string `json:"user"`
	PasswordFile string `json:"password_file"`
	PID          int    `json:"pid"`
	LogFile      string `json:"log_file"`
}

// Server returns the homeserver called name.
func (s *State) Server(name string) (*Server, bool) {
	for i := range s.Homeservers {
		if s.Homeservers[i].Name == name {
			return &s.Homeservers[i], true
		}
	}
	return nil, false
}

// ErrNoStack is returned by Load when the directory holds no stack.
var ErrNoStack = errors.New("no stack")

// Load reads DIR/stack.json.
func Load(dir string) (*State, error) {
	data, err := os.ReadFile(filepath.Join(dir, StateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s (run `landesmessenger stack up`)", ErrNoStack, dir)
	} else if err != nil {
		return nil, fmt.Errorf("read stack state: %w", err)
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, StateFile), err)
	}
	for i := range st.Homeservers {
		st.Homeservers[i].Kind = st.kindOf(&st.Homeservers[i])
	}
	return &st, nil
}

// kindOf returns the kind of hs, which is the stack's kind in states written
// before servers recorded their own.
func (s *State) kindOf(hs *Server) Kind {
	if hs.Kind != "" {
		return hs.Kind
	}
	return s.Kind
}

func (s *State) save(dir string) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, StateFile+".tmp")
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write stack state: %w", err)
	}
	return os.Rename(tmp, filepath.Join(dir, StateFile))
}
