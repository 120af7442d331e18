package service

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/sirupsen/logrus"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/bridge"
	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/homeserver"
	"github.com/landesmessenger/landesmessenger/logging"
	"github.com/landesmessenger/landesmessenger/provisioning"
	"github.com/landesmessenger/landesmessenger/store"
)

// This file runs the school bridge (package bridge) inside serve.

// BridgeRegistrationPath returns where the bridge's appservice
// registration is: bridge.registration_file, else, for a homeserver of the
// local stack, STACK_DIR/bridge/registration.yaml.
func BridgeRegistrationPath(cfg *config.Config) (string, error) {
	b := &cfg.Bridge
	if b.RegistrationFile != "" {
		return b.RegistrationFile, nil
	}
	hs, ok := cfg.Homeserver(b.Homeserver)
	if !ok || !hs.FromStack() {
		return "", fmt.Errorf("%s:%d: bridge.registration_file: required for a homeserver outside the local stack", cfg.Path, b.Line)
	}
	return filepath.Join(cfg.StackDir, "bridge", "registration.yaml"), nil
}

// bridgeDatabase returns the URI of the bridge's own database.
func bridgeDatabase(cfg *config.Config) (string, error) {
	if cfg.Bridge.Database != "" {
		return cfg.Bridge.Database, nil
	}
	if cfg.Database.Driver() == config.DriverPostgres {
		return "", fmt.Errorf("%s:%d: bridge.database: required with PostgreSQL (a database or schema of its own)", cfg.Path, cfg.Bridge.Line)
	}
	return "sqlite:" + filepath.Join(filepath.Dir(cfg.Database.DSN()), "bridge.db"), nil
}

// startBridge runs the school bridge until ctx ends, if the configuration
// has one: once the first plan is applied (its members are provisioned
// people), trying again every 30 s until it starts.
func (s *Service) startBridge(ctx context.Context) *sync.WaitGroup {
	var wg sync.WaitGroup
	if !s.Config.Bridge.Enabled() {
		return &wg
	}
	log := s.log.WithField("component", "bridge")
	wg.Add(1)
	go func() {
		defer wg.Done()
		if !s.rooms.wait(ctx) {
			return
		}
		for {
			r, err := s.runBridge(ctx, log)
			if err == nil {
				<-ctx.Done()
				r.Stop()
				log.Info("school bridge stopped")
				return
			}
			log.WithError(err).Warn("school bridge could not start; retrying in 30 s")
			if !sleepCtx(ctx, botRetry) {
				return
			}
		}
	}()
	return &wg
}

// inboxKeep is how long the bridge keeps a posted mail's raw text:
// bridge.inbox_retention, but never longer than the rooms' default
// retention.
func inboxKeep(cfg *config.Config) time.Duration {
	keep := cfg.Bridge.InboxRetention
	if d := cfg.Retention.Default; d != nil && d.MaxLifetime > 0 && d.MaxLifetime < keep {
		keep = d.MaxLifetime
	}
	return keep
}

// runBridge starts the bridge once.
func (s *Service) runBridge(ctx context.Context, log logrus.FieldLogger) (*bridge.Running, error) {
	cfg := s.Config
	b := &cfg.Bridge
	schools, err := bridge.LoadSchools(b.SchoolsFile)
	if err != nil {
		return nil, err
	}
	var conn *homeserver.Conn
	for _, c := range s.Conns {
		if c.Endpoint.Name == string(b.Homeserver) {
			conn = c
		}
	}
	if conn == nil {
		return nil, fmt.Errorf("bridge: homeserver %s not connected", b.Homeserver)
	}
	regPath, err := BridgeRegistrationPath(cfg)
	if err != nil {
		return nil, err
	}
	reg, err := bridge.ReadRegistration(regPath)
	if err != nil {
		return nil, err
	}
	uri, err := bridgeDatabase(cfg)
	if err != nil {
		return nil, err
	}
	zl := logging.Zerolog(log.WithField("component", "bridgev2"))
	if conn.Implementation == homeserver.Dendrite {
		// Dendrite's old spec version is known and accepted (see
		// docs/school-bridge.md): bridgev2's error about it is a warning.
		zl = zerolog.New(knownOldServer{logging.NewZerologWriter(log.WithField("component", "bridgev2"))})
	}
	db, err := store.OpenPlain(ctx, uri, zl)
	if err != nil {
		return nil, err
	}
	relayPass := ""
	if b.Relay.PasswordFile != "" {
		if relayPass, err = config.ReadSecret(b.Relay.PasswordFile); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("bridge.relay.password_file: %w", err)
		}
	}
	smtpUsers := map[string]string{}
	for i, u := range b.Inbound.Users {
		pw, err := config.ReadSecret(u.PasswordFile)
		if err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("bridge.inbound.users[%d].password_file: %w", i, err)
		}
		smtpUsers[u.Username] = pw
	}
	want, _ := s.rooms.snapshot()
	members := map[string][]id.UserID{}
	for _, r := range b.Rooms {
		for _, p := range r.Members {
			if u := personUser(want, provisioning.PersonID(p)); u != "" {
				members[r.ID] = append(members[r.ID], u)
			} else {
				log.WithFields(logrus.Fields{"room": r.ID, "person": p}).Warn("bridged room member is not a provisioned person; left out")
			}
		}
	}
	r, err := bridge.Start(ctx, bridge.Options{
		Config: b, Schools: schools, HomeserverURL: conn.Endpoint.ClientURL, ServerName: conn.Endpoint.ServerName,
		Dendrite: conn.Implementation == homeserver.Dendrite, Registration: reg, DB: db, Store: s.Store,
		Owner: conn.Client.UserID, Members: members, Log: log, Zerolog: zl, RelayPass: relayPass, SMTPUsers: smtpUsers, InboxKeep: inboxKeep(cfg),
	})
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return r, nil
}

// personUser returns the account of person in want, "" if none.
func personUser(want *provisioning.Desired, person provisioning.PersonID) id.UserID {
	if want == nil {
		return ""
	}
	for u, a := range want.Accounts {
		if a.Person == person {
			return u
		}
	}
	return ""
}

// knownOldServer logs bridgev2's "homeserver is outdated" error as a
// warning: on Dendrite v0.13.8 it is expected.
type knownOldServer struct{ w *logging.ZerologWriter }

func (k knownOldServer) Write(p []byte) (int, error) { return k.w.Write(p) }

func (k knownOldServer) WriteLevel(l zerolog.Level, p []byte) (int, error) {
	if l >= zerolog.ErrorLevel && bytes.Contains(p, []byte("homeserver is outdated")) {
		l = zerolog.WarnLevel
	}
	return k.w.WriteLevel(l, p)
}
