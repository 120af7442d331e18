package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/federation"
	"github.com/landesmessenger/landesmessenger/stack"
)

// The stack keeps its federation list and the key that signs it here:
// DIR/federation/list.json and DIR/federation/signing.key(.pub). The
// example configuration names these paths.
const (
	stackListFile = "federation/list.json"
	stackKeyFile  = "federation/signing.key"
	// stackListValidity is how long a list the stack signs stays valid.
	stackListValidity = 30 * 24 * time.Hour
)

// stackFederation prepares what `stack up` needs for a configuration with
// a federation section: the callback that signs the example list
// (template) for the stack's server names and derives each homeserver's
// federation settings from it, and the command of the federation gate.
// Without a federation section it returns nil values.
func stackFederation(cfg *config.Config, stackDir, template string, kind stack.Kind, kinds map[string]stack.Kind) (func(map[string]string) (map[string]stack.FederationSettings, error), []string, error) {
	if cfg.Federation == nil {
		return nil, nil, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, fmt.Errorf("federation gate: %w", err)
	}
	abs, err := filepath.Abs(stackDir)
	if err != nil {
		return nil, nil, err
	}
	listFile := filepath.Join(abs, stackListFile)
	keyFile := filepath.Join(abs, stackKeyFile)
	// The gate runs in its homeserver's folder: its state file is per server.
	gate := []string{exe, "federation", "gate", "--list", listFile, "--public-key", keyFile + ".pub", "--state", "gate-list.json"}
	callback := func(serverNames map[string]string) (map[string]stack.FederationSettings, error) {
		list, err := signStackList(template, listFile, keyFile, serverNames)
		if err != nil {
			return nil, err
		}
		out := map[string]stack.FederationSettings{}
		for name, sn := range serverNames {
			k := kind
			if o, ok := kinds[name]; ok {
				k = o
			}
			if out[name], err = stackSettings(list, federation.ServerName(sn), k); err != nil {
				return nil, fmt.Errorf("federation list of the stack: %w", err)
			}
		}
		return out, nil
	}
	return callback, gate, nil
}

// stackSettings derives what homeserver s of kind k enforces itself:
// Synapse its federation_domain_whitelist (impossible when it must reach
// servers outside the list), Dendrite, which has no allow-list, the gate,
// or no federation at all when the list gives it no partner.
func stackSettings(l *federation.List, s federation.ServerName, k stack.Kind) (stack.FederationSettings, error) {
	e, err := federation.EnforcementOf(l, s)
	if err != nil {
		return stack.FederationSettings{}, err
	}
	if !e.Federates() {
		return stack.FederationSettings{DisableFederation: true}, nil
	}
	if k != stack.Synapse {
		return stack.FederationSettings{Gate: true}, nil
	}
	allow, ok := e.AllowList()
	if !ok {
		return stack.FederationSettings{}, nil
	}
	wl := make([]string, len(allow))
	for i, a := range allow {
		wl[i] = string(a)
	}
	return stack.FederationSettings{Whitelist: wl}, nil
}

// signStackList writes the stack's signed federation list: the template
// with the server names of the entries whose name is a stack homeserver
// replaced by the stack's, issued now, valid for stackListValidity, signed
// with the stack's key (made on first use). A list written before that is
// still valid for the stack's key and names is kept, so a list re-signed
// by hand (a test dropping a server) survives a restart of the stack.
func signStackList(template, listFile, keyFile string, serverNames map[string]string) (*federation.List, error) {
	if err := os.MkdirAll(filepath.Dir(listFile), 0o700); err != nil {
		return nil, err
	}
	key, err := federation.ReadPrivateKey(keyFile)
	if errors.Is(err, os.ErrNotExist) {
		if key, err = federation.GenerateKey(); err == nil {
			err = federation.WriteKeyPair(keyFile, key)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("federation key of the stack: %w", err)
	}
	now := time.Now()
	if doc, err := os.ReadFile(listFile); err == nil {
		if l, err := federation.Verify(doc, []federation.PublicKey{key.Public()}, now.Add(24*time.Hour)); err == nil && namesStack(l, serverNames) {
			return l, nil
		}
	}
	data, err := os.ReadFile(template)
	if err != nil {
		return nil, fmt.Errorf("federation list template: %w", err)
	}
	var l federation.List
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("%s: %w", template, err)
	}
	rename := map[federation.ServerName]federation.ServerName{}
	for i := range l.Homeservers {
		e := &l.Homeservers[i]
		if sn, ok := serverNames[e.Name]; ok {
			rename[e.ServerName] = federation.ServerName(sn)
			e.ServerName = federation.ServerName(sn)
		}
	}
	for i := range l.Homeservers {
		for j, p := range l.Homeservers[i].FederatesWith {
			if n, ok := rename[p]; ok {
				l.Homeservers[i].FederatesWith[j] = n
			}
		}
	}
	l.IssuedAt = now.UTC().Truncate(time.Second)
	l.ExpiresAt = l.IssuedAt.Add(stackListValidity)
	raw, err := json.Marshal(&l)
	if err != nil {
		return nil, err
	}
	signed, err := federation.Sign(raw, key, now)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", template, err)
	}
	tmp := listFile + ".tmp"
	if err := os.WriteFile(tmp, signed, 0o644); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, listFile); err != nil {
		return nil, err
	}
	return &l, nil
}

// namesStack reports whether l was made for the stack: every entry named
// after a stack homeserver carries that server's name, and there is one.
func namesStack(l *federation.List, serverNames map[string]string) bool {
	found := false
	for _, e := range l.Homeservers {
		if sn, ok := serverNames[e.Name]; ok {
			if federation.ServerName(sn) != e.ServerName {
				return false
			}
			found = true
		}
	}
	return found
}
