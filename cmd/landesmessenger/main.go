// Command landesmessenger provisions and serves the Matrix homeservers of a
// Land's administration. This file only parses flags and wires packages.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/logging"
	"github.com/landesmessenger/landesmessenger/provisioning"
	"github.com/landesmessenger/landesmessenger/provisioning/reconcile"
	"github.com/landesmessenger/landesmessenger/service"
	"github.com/landesmessenger/landesmessenger/stack"
	"github.com/landesmessenger/landesmessenger/store"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	app := &cli.App{
		Name:  "landesmessenger",
		Usage: "secure, federated messenger for a Land's administration, on Matrix homeservers",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "log-format", Usage: "log format: text or json (default: from the config, else text)", EnvVars: []string{"LM_LOG_FORMAT"}},
			&cli.StringFlag{Name: "log-level", Usage: "log level: trace, debug, info, warn, error (default: from the config, else info)", EnvVars: []string{"LM_LOG_LEVEL"}},
		},
		Commands: []*cli.Command{
			{
				Name:  "version",
				Usage: "print the version",
				Action: func(c *cli.Context) error {
					fmt.Fprintln(c.App.Writer, "landesmessenger", version)
					return nil
				},
			},
			{
				Name:  "config",
				Usage: "work with configuration files",
				Subcommands: []*cli.Command{{
					Name:  "validate",
					Usage: "check a configuration file and report every problem as FILE:LINE: field: problem",
					Flags: []cli.Flag{configFlag()},
					Action: func(c *cli.Context) error {
						cfg, err := loadConfig(c)
						if err != nil {
							return err
						}
						fmt.Fprintf(c.App.Writer, "%s: ok: %s\n", cfg.Path, cfg.Summary())
						return nil
					},
				}},
			},
			{
				Name:  "stack",
				Usage: "run a local stack of real homeservers on loopback (the demo and the tests use it)",
				Subcommands: []*cli.Command{
					{
						Name:      "up",
						Usage:     "start one homeserver per configured homeserver, federating over TLS; installs what is missing into the cache folder",
						UsageText: "landesmessenger stack up -c FILE [--dir DIR] [--homeserver dendrite|synapse] [--kind NAME=KIND ...] [--federation-template FILE]",
						Flags: []cli.Flag{configFlag(), stackDirFlag(), &cli.StringFlag{
							Name: "homeserver", Value: string(stack.Dendrite), Usage: "homeserver kind: dendrite (embedded default) or synapse (on PostgreSQL)",
						}, &cli.StringSliceFlag{
							Name: "kind", Usage: "kind of one homeserver, overriding --homeserver, e.g. land=synapse (repeatable): a mixed stack",
						}, &cli.StringFlag{
							Name: "federation-template", Value: "config/federation.json",
							Usage: "with a federation section in the config: the federation list the stack signs for its server names (written to DIR/federation/list.json, key DIR/federation/signing.key)",
						}},
						Action: stackUp,
					},
					{
						Name:  "down",
						Usage: "stop every process the stack started, by PID; data stays for the next `stack up`",
						Flags: []cli.Flag{stackDirFlag(), &cli.BoolFlag{Name: "purge", Usage: "also delete the stack's data"}},
						Action: func(c *cli.Context) error {
							log, err := newLogger(c, nil)
							if err != nil {
								return err
							}
							if c.Bool("purge") {
								return stack.Purge(c.String("dir"), log)
							}
							return stack.Down(c.String("dir"), log)
						},
					},
					{
						Name:  "install",
						Usage: "install Dendrite, Synapse and Mailpit into the cache folder unless the pinned versions are there (`stack up` installs what it needs; `make test` calls this first)",
						Action: func(c *cli.Context) error {
							log, err := newLogger(c, nil)
							if err != nil {
								return err
							}
							for _, install := range []func(context.Context, logrus.FieldLogger) (string, error){stack.EnsureDendrite, stack.EnsureSynapse, stack.EnsureMailpit} {
								if _, err := install(c.Context, log); err != nil {
									return err
								}
							}
							return nil
						},
					},
					{
						Name:   "status",
						Usage:  "say what of the stack runs; exits 1 unless everything runs",
						Flags:  []cli.Flag{stackDirFlag()},
						Action: stackStatus,
					},
				},
			},
			{
				Name:  "plan",
				Usage: "show what apply would change: + create, ~ change, - remove, grouped by tenant",
				Flags: []cli.Flag{configFlag(), massRemovalFlag(),
					&cli.BoolFlag{Name: "json", Usage: "print {\"actions\": [...]} instead of text"},
					&cli.BoolFlag{Name: "exit-code", Usage: "exit 2 when changes are pending, 0 when in sync"},
				},
				Action: planCommand,
			},
			{
				Name:   "apply",
				Usage:  "make the homeservers match the configuration and the directory",
				Flags:  []cli.Flag{configFlag(), massRemovalFlag()},
				Action: applyCommand,
			},
			{
				Name:  "serve",
				Usage: "connect to every configured homeserver, open the database and run until SIGINT or SIGTERM",
				Flags: []cli.Flag{configFlag()},
				Action: func(c *cli.Context) error {
					cfg, log, err := loadConfigAndLogger(c)
					if err != nil {
						return err
					}
					ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
					defer stop()
					if err := service.Run(ctx, cfg, log.WithField("version", version), version); err != nil {
						return err
					}
					log.Info("stopped")
					return nil
				},
			},
			federationCommand(),
			auditCommand(),
			retentionCommand(),
			onboardingCommand(),
			offboardingCommand(),
			archiveCommand(),
			bridgeCommand(),
		},
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "landesmessenger:", err)
		os.Exit(1)
	}
}

func massRemovalFlag() cli.Flag {
	return &cli.BoolFlag{Name: "allow-mass-removal", Usage: "allow removing more than provisioning.max_removal_share of a tenant's people or rooms"}
}

// startService connects to the homeservers and the database for a one-shot
// command.
func startService(c *cli.Context) (*service.Service, *reconcile.Engine, *logrus.Logger, error) {
	cfg, log, err := loadConfigAndLogger(c)
	if err != nil {
		return nil, nil, nil, err
	}
	svc, err := service.Start(c.Context, cfg, log, version)
	if err != nil {
		return nil, nil, nil, err
	}
	eng, err := svc.Provisioning()
	if err != nil {
		svc.Stop()
		return nil, nil, nil, err
	}
	return svc, eng, log, nil
}

func planCommand(c *cli.Context) error {
	svc, eng, _, err := startService(c)
	if err != nil {
		return err
	}
	defer svc.Stop()
	out, err := eng.Plan(c.Context, reconcile.Options(eng.Config, c.Bool("allow-mass-removal")))
	if err != nil {
		return err
	}
	if c.Bool("json") {
		data, err := json.MarshalIndent(out.Plan, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintln(c.App.Writer, string(data))
	} else if err := provisioning.WriteText(c.App.Writer, out.Plan, service.TenantNames(eng.Config)); err != nil {
		return err
	}
	if c.Bool("exit-code") && len(out.Plan.Actions) > 0 {
		return cli.Exit("", 2)
	}
	return nil
}

func applyCommand(c *cli.Context) error {
	svc, eng, log, err := startService(c)
	if err != nil {
		return err
	}
	defer svc.Stop()
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	out, res, err := svc.Reconcile(ctx, eng, c.Bool("allow-mass-removal"), reconcile.Progress(c.App.ErrWriter, isTerminal(os.Stderr)))
	if err != nil {
		return err
	}
	for _, w := range out.Plan.Warnings {
		log.Warn(w)
	}
	if res == nil {
		fmt.Fprintln(c.App.Writer, "In sync: nothing to do.")
		return nil
	}
	fmt.Fprintf(c.App.Writer, "Applied %d of %d actions in %s (%d failed; %d write requests).\n",
		res.Done, len(out.Plan.Actions), time.Since(start).Round(time.Millisecond), res.Failed, svc.Writes())
	for _, e := range res.Errors {
		fmt.Fprintln(c.App.ErrWriter, "failed:", e)
	}
	if res.Failed > 0 {
		return cli.Exit("", 1)
	}
	return nil
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func configFlag() cli.Flag {
	return &cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "configuration `FILE`", Required: true, EnvVars: []string{"LM_CONFIG"}}
}

func stackDirFlag() cli.Flag {
	return &cli.StringFlag{Name: "dir", Usage: "stack folder `DIR`", Value: ".demo", EnvVars: []string{"LM_STACK_DIR"}}
}

// loadConfig loads the file named by -c. Validation problems are printed one
// per line as FILE:LINE: field: problem.
func loadConfig(c *cli.Context) (*config.Config, error) {
	cfg, err := config.Load(c.String("config"))
	var verr *config.ValidationError
	if errors.As(err, &verr) {
		for _, p := range verr.Problems {
			fmt.Fprintln(c.App.ErrWriter, p.String())
		}
		return nil, cli.Exit(fmt.Sprintf("landesmessenger: %s: %d problem(s)", c.String("config"), len(verr.Problems)), 1)
	}
	return cfg, err
}

// loadConfigAndLogger loads the config and makes the logger it asks for.
func loadConfigAndLogger(c *cli.Context) (*config.Config, *logrus.Logger, error) {
	cfg, err := loadConfig(c)
	if err != nil {
		return nil, nil, err
	}
	log, err := newLogger(c, cfg)
	return cfg, log, err
}

// newLogger makes the logger from the flags, falling back to the config.
func newLogger(c *cli.Context, cfg *config.Config) (*logrus.Logger, error) {
	level, format := c.String("log-level"), c.String("log-format")
	if cfg != nil {
		if level == "" {
			level = cfg.Log.Level
		}
		if format == "" {
			format = cfg.Log.Format
		}
	}
	if level == "" {
		level = "info"
	}
	if format == "" {
		format = "text"
	}
	return logging.New(os.Stderr, level, format)
}

func stackUp(c *cli.Context) error {
	cfg, log, err := loadConfigAndLogger(c)
	if err != nil {
		return err
	}
	kind, kinds, err := stack.ParseKinds(c.String("homeserver"), c.StringSlice("kind"))
	if err != nil {
		return err
	}
	names := make([]string, len(cfg.Homeservers))
	for i, hs := range cfg.Homeservers {
		names[i] = string(hs.Name)
	}
	for name := range kinds {
		if _, ok := cfg.Homeserver(config.HomeserverName(name)); !ok {
			return fmt.Errorf("--kind %s: no homeserver %q in %s", name, name, cfg.Path)
		}
	}
	fed, gate, err := stackFederation(cfg, c.String("dir"), c.String("federation-template"), kind, kinds)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, err := stack.Up(ctx, stack.Options{
		Dir:              c.String("dir"),
		Kind:             kind,
		Kinds:            kinds,
		Homeservers:      names,
		ServiceLocalpart: cfg.Homeservers[0].ServiceAccount.Localpart,
		Federation:       fed,
		GateArgs:         gate,
		Appservices:      stackAppservices(cfg, c.String("dir")),
		Log:              log,
	})
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "%s stack in %s:\n", st.Kind, st.Dir)
	fmt.Fprintln(w, "HOMESERVER\tSERVER NAME\tCLIENT URL\tFEDERATION URL\tPID")
	for _, hs := range st.Homeservers {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\n", hs.Name, hs.ServerName, hs.ClientURL, hs.FederationURL, hs.PID)
	}
	return w.Flush()
}

func stackStatus(c *cli.Context) error {
	st, procs, err := stack.Status(c.String("dir"))
	if errors.Is(err, stack.ErrNoStack) {
		fmt.Fprintf(c.App.Writer, "no stack runs in %s\n", c.String("dir"))
		return cli.Exit("", 1)
	} else if err != nil {
		return err
	}
	w := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "%s stack in %s:\n", st.Kind, st.Dir)
	fmt.Fprintln(w, "PROCESS\tADDRESS\tPID\tSTATE")
	down := 0
	for _, p := range procs {
		state := "running"
		if !p.Running {
			state, down = "stopped", down+1
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\n", p.Name, p.URL, p.PID, state)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if down > 0 {
		return cli.Exit("", 1)
	}
	return nil
}

// openStore opens the database of cfg for a command that reads it.
func openStore(c *cli.Context, cfg *config.Config, log logrus.FieldLogger) (*store.Store, error) {
	st, err := store.Open(c.Context, cfg.Database.URI, logging.Zerolog(log.WithField("component", "database")))
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return st, nil
}

// sinceFlag parses the --since flag: an RFC 3339 time or a date; zero if
// unset.
func sinceFlag(c *cli.Context) (time.Time, error) {
	s := c.String("since")
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--since %q: want an RFC 3339 time (2026-11-01T00:00:00Z) or a date (2026-11-01)", s)
}
