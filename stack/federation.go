package stack

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sirupsen/logrus"
)

// FederationSettings restrict whom one homeserver of a stack federates with.
type FederationSettings struct {
	// Whitelist, if non-nil, is Synapse's federation_domain_whitelist: the only
	// servers it federates with (write it even if empty: [] means none).
	Whitelist []string `json:"whitelist"`
	// DisableFederation turns federation off entirely (Dendrite
	// global.disable_federation; for Synapse write federation_domain_whitelist: [] ).
	DisableFederation bool `json:"disable_federation,omitempty"`
	// Gate puts the federation gate in front of the server's federation listener
	// (used for Dendrite, which cannot enforce an allow-list): the homeserver's
	// federation listener moves to IP:8449 and the gate process (GateArgs) listens on IP:8448.
	Gate bool `json:"gate,omitempty"`
}

// federationSettings asks opts.Federation for the settings of the servers
// named in serverNames (homeserver name -> Matrix server name) and returns
// what applies to each, by homeserver name. Gate is dropped for Synapse, which
// enforces its whitelist itself.
func federationSettings(opts *Options, serverNames map[string]string, kinds map[string]Kind) (map[string]*FederationSettings, error) {
	if opts.Federation == nil {
		return nil, nil
	}
	given, err := opts.Federation(serverNames)
	if err != nil {
		return nil, fmt.Errorf("federation settings: %w", err)
	}
	applied := make(map[string]*FederationSettings, len(given))
	for name, f := range given {
		kind, ok := kinds[name]
		if !ok {
			return nil, fmt.Errorf("federation settings for %q, which is not a homeserver of the stack", name)
		}
		log := opts.Log.WithFields(logrus.Fields{"homeserver": name, "kind": kind})
		switch {
		case kind == Synapse && f.Gate:
			log.Warn("Synapse enforces its federation whitelist itself: no federation gate in front of it")
			f.Gate = false
		case kind == Dendrite && f.Gate && len(opts.GateArgs) == 0:
			return nil, fmt.Errorf("federation gate requested for %s, but no gate command is configured (Options.GateArgs)", name)
		case kind == Dendrite && f.Whitelist != nil && !f.Gate && !f.DisableFederation:
			log.Warn("Dendrite cannot enforce a federation whitelist: without a federation gate it federates with every server")
		}
		applied[name] = &f
	}
	return applied, nil
}

// synapseFederationConfig renders the federation_domain_whitelist line of a
// Synapse configuration, or nothing when f leaves federation unrestricted.
func synapseFederationConfig(f *FederationSettings) string {
	if f == nil || (f.Whitelist == nil && !f.DisableFederation) {
		return ""
	}
	var quoted []string
	if !f.DisableFederation {
		for _, name := range f.Whitelist {
			quoted = append(quoted, strconv.Quote(name))
		}
	}
	return "federation_domain_whitelist: [" + strings.Join(quoted, ", ") + "]\n"
}

// gateProgram is what the command line of a gate started from args
// contains: the base name of its program.
func gateProgram(args []string) string { return filepath.Base(args[0]) }

// startGate starts the federation gate of s from args, listening on the
// server's public federation address and forwarding to its own listener
// behind it, with output to DIR/gate.log of the server.
func startGate(args []string, s *serverLayout) (*process, error) {
	if len(args) == 0 {
		return nil, errors.New("no federation gate command")
	}
	argv := append(append([]string(nil), args...),
		"--listen", s.federationAddr(),
		"--upstream", "https://"+s.federationListenAddr(),
		"--tls-cert", s.tlsCert,
		"--tls-key", s.tlsKey,
		"--server-name", s.serverName,
	)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = s.dir
	return startProcess("federation gate of "+s.name, cmd, s.gateLogFile())
}
