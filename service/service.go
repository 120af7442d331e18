// Package service runs Landesmessenger as a long-lived process (`serve`): it
// opens the database, connects the service account to every configured
// homeserver and checks its credentials, and then runs the workers that later
// parts add (provisioning reconciler, bots, bridge) until it is stopped.
package service

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/bots/admin"
	"github.com/landesmessenger/landesmessenger/bots/matrixbot"
	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/homeserver"
	"github.com/landesmessenger/landesmessenger/logging"
	"github.com/landesmessenger/landesmessenger/stack"
	"github.com/landesmessenger/landesmessenger/store"
)

// Target is a configured homeserver with its connection details resolved:
// from the configuration, or from the local stack for homeservers without a
// client_url.
type Target struct {
	Endpoint    homeserver.Endpoint
	Credentials homeserver.Credentials
	// Admin holds the secrets account administration needs (Dendrite).
	Admin homeserver.AdminOptions
}

// Resolve returns the connection details of every homeserver of cfg, reading
// secret files and, where needed, the local stack's stack.json. Errors name
// the homeserver and never contain a secret.
func Resolve(cfg *config.Config) ([]Target, error) {
	var st *stack.State
	targets := make([]Target, 0, len(cfg.Homeservers))
	var errs []error
	for _, hs := range cfg.Homeservers {
		t, err := resolveOne(cfg, &hs, &st)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: homeserver %s: %w", cfg.Path, hs.Line, hs.Name, err))
			continue
		}
		targets = append(targets, t)
	}
	return targets, errors.Join(errs...)
}

func resolveOne(cfg *config.Config, hs *config.Homeserver, st **stack.State) (Target, error) {
	t := Target{Endpoint: homeserver.Endpoint{Name: string(hs.Name), ServerName: hs.ServerName, ClientURL: hs.ClientURL}}
	var passwordFile string
	if hs.FromStack() {
		if *st == nil {
			loaded, err := stack.Load(cfg.StackDir)
			if err != nil {
				return t, err
			}
			*st = loaded
		}
		s, ok := (*st).Server(string(hs.Name))
		if !ok {
			return t, fmt.Errorf("not in the local stack in %s (start it with `landesmessenger stack up -c %s`)", cfg.StackDir, cfg.Path)
		}
		t.Endpoint.ServerName, t.Endpoint.ClientURL = s.ServerName, s.ClientURL
		t.Credentials.UserID = id.UserID(s.ServiceUserID)
		passwordFile = s.ServicePasswordFile
		if err := readOptional(s.RegistrationSharedSecretFile, &t.Admin.RegistrationSharedSecret); err != nil {
			return t, fmt.Errorf("registration shared secret: %w", err)
		}
		if err := readOptional(s.AppserviceTokenFile, &t.Admin.AppserviceToken); err != nil {
			return t, fmt.Errorf("appservice token: %w", err)
		}
	} else {
		t.Credentials.UserID = id.NewUserID(hs.ServiceAccount.Localpart, hs.ServerName)
		passwordFile = hs.ServiceAccount.PasswordFile
		if err := readOptional(hs.RegistrationSharedSecretFile, &t.Admin.RegistrationSharedSecret); err != nil {
			return t, fmt.Errorf("registration_shared_secret_file: %w", err)
		}
		if err := readOptional(hs.AppserviceTokenFile, &t.Admin.AppserviceToken); err != nil {
			return t, fmt.Errorf("appservice_token_file: %w", err)
		}
		if f := hs.ServiceAccount.AccessTokenFile; f != "" {
			token, err := config.ReadSecret(f)
			if err != nil {
				return t, fmt.Errorf("service_account.access_token_file: %w", err)
			}
			t.Credentials.AccessToken = token
		}
	}
	if passwordFile != "" {
		pw, err := config.ReadSecret(passwordFile)
		if err != nil {
			return t, fmt.Errorf("service account password: %w", err)
		}
		t.Credentials.Password = pw
	}
	return t, nil
}

// readOptional reads the secret file path into dst unless path is empty.
func readOptional(path string, dst *string) error {
	if path == "" {
		return nil
	}
	v, err := config.ReadSecret(path)
	if err != nil {
		return err
	}
	*dst = v
	return nil
}

// Service is a running Landesmessenger.
type Service struct {
	Config *config.Config
	Store  *store.Store
	Conns  []*homeserver.Conn
	// Targets are the resolved homeservers, in the order of Conns.
	Targets []Target
	log     logrus.FieldLogger
	runID   int64
	// lists keeps the federation list in force, if one is configured.
	lists *ListKeeper
	// version is the version of the running binary.
	version string
	// reconcileMu serializes reconciles of the loop and of the admin bot.
	reconcileMu  sync.Mutex
	health       health
	adminBot     *admin.Bot
	ensureBotsMu sync.Mutex
	// bots are the running admin bots by homeserver.
	botsMu sync.Mutex
	bots   map[config.HomeserverName]*matrixbot.Bot
	// rooms is the desired state of the last plan, for the archive bot and
	// the retention worker.
	rooms *desiredRooms
	// archivists are the running archive bots.
	archivists archivists
	// pickleSecret derives the bots' pickle keys (PickleKeyFile).
	pickleSecret []byte
}

// warnInsecure logs a warning, at every start, for each connection the
// configuration allows in clear text with insecure: true (issue 14,
// finding 13).
func warnInsecure(cfg *config.Config, log logrus.FieldLogger) {
	for _, h := range cfg.Homeservers {
		if h.Insecure {
			log.WithFields(logrus.Fields{"homeserver": string(h.Name), "client_url": h.ClientURL}).
				Warn("insecure: true: the service account's password and tokens may cross the network in clear")
		}
	}
	for _, s := range cfg.Directory {
		if s.Insecure {
			log.WithField("url", s.URL).Warn("insecure: true: the LDAP bind password may cross the network in clear")
		}
	}
}

// Start opens the database, applies its migrations, and connects to every
// homeserver, checking the service account's credentials. A login is kept in
// the database so that a restart reuses it.
func Start(ctx context.Context, cfg *config.Config, log logrus.FieldLogger, version string) (*Service, error) {
	targets, err := Resolve(cfg)
	if err != nil {
		return nil, err
	}
	warnInsecure(cfg, log)
	db, err := store.Open(ctx, cfg.Database.URI, logging.Zerolog(log.WithField("component", "database")))
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	pickle, err := loadPickleSecret(cfg)
	if err != nil {
		db.Close()
		return nil, err
	}
	svc := &Service{Config: cfg, Store: db, log: log, Targets: targets, version: version, bots: map[config.HomeserverName]*matrixbot.Bot{},
		rooms: newDesiredRooms(), archivists: archivists{bots: map[config.HomeserverName]*matrixbot.Bot{}}, pickleSecret: pickle}
	for _, t := range targets {
		hlog := log.WithFields(logrus.Fields{"homeserver": t.Endpoint.Name, "client_url": t.Endpoint.ClientURL})
		saved, err := db.LoadSession(ctx, t.Endpoint.Name)
		if err != nil {
			db.Close()
			return nil, err
		}
		var prev *homeserver.Session
		if saved != nil {
			prev = &homeserver.Session{UserID: saved.UserID, DeviceID: saved.DeviceID, AccessToken: saved.AccessToken}
		}
		conn, err := homeserver.Connect(ctx, t.Endpoint, t.Credentials, prev, logging.Zerolog(hlog.WithField("component", "mautrix")))
		if err != nil {
			db.Close()
			return nil, err
		}
		if conn.NewSession {
			err := db.SaveSession(ctx, store.Session{
				Homeserver: t.Endpoint.Name, UserID: conn.Session.UserID, DeviceID: conn.Session.DeviceID,
				AccessToken: conn.Session.AccessToken, UpdatedAt: time.Now(),
			})
			if err != nil {
				db.Close()
				return nil, err
			}
		}
		if err := homeserver.ExemptFromRateLimits(ctx, conn); err != nil {
			db.Close()
			return nil, err
		}
		hlog.WithFields(logrus.Fields{
			"server_name":    t.Endpoint.ServerName,
			"user_id":        conn.Session.UserID,
			"device_id":      conn.Session.DeviceID,
			"implementation": conn.Implementation,
			"new_login":      conn.NewSession,
		}).Info("homeserver connected")
		svc.Conns = append(svc.Conns, conn)
	}
	return svc, nil
}

// Run starts the service and blocks until ctx is done, then stops it.
func Run(ctx context.Context, cfg *config.Config, log logrus.FieldLogger, version string) error {
	svc, err := Start(ctx, cfg, log, version)
	if err != nil {
		return err
	}
	if svc.runID, err = svc.Store.StartRun(ctx, version, time.Now()); err != nil {
		svc.Store.Close()
		return err
	}
	log.WithFields(logrus.Fields{
		"homeservers": len(svc.Conns),
		"tenants":     len(cfg.Tenants),
		"database":    databaseKind(cfg),
	}).Info("ready")
	eng, err := svc.Provisioning()
	if err != nil {
		svc.Stop()
		return err
	}
	clock, err := retentionClock()
	if err != nil {
		svc.Stop()
		return err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		svc.reconcileLoop(ctx, eng)
	}()
	bots := svc.startAdminBot(ctx, eng)
	onb := svc.startOnboarding(ctx, eng)
	guests := svc.startGuestWorker(ctx, eng)
	ab := svc.newArchiveBot(cfg, time.Now)
	archive := svc.startArchive(ctx, eng, ab)
	sweeper := svc.startRetention(ctx, svc.newSweeper(ab, clock))
	schoolBridge := svc.startBridge(ctx)
	<-ctx.Done()
	<-done
	bots.Wait()
	onb.Wait()
	guests.Wait()
	archive.Wait()
	sweeper.Wait()
	schoolBridge.Wait()
	log.Info("stopping")
	return svc.Stop()
}

// Stop records the end of a serve run, if this is one, and closes the
// database.
func (s *Service) Stop() error {
	var err error
	if s.runID != 0 {
		// The run's context is gone by now; recording the stop gets a fresh one.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = s.Store.StopRun(ctx, s.runID, time.Now())
	}
	return errors.Join(err, s.Store.Close())
}

func databaseKind(cfg *config.Config) string {
	if cfg.Database.Driver() == config.DriverPostgres {
		return "postgres"
	}
	return "sqlite:" + filepath.Clean(cfg.Database.DSN())
}
