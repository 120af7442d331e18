package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/landesmessenger/landesmessenger/bridge"
	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/service"
	"github.com/landesmessenger/landesmessenger/stack"
)

// bridgeCommand is `landesmessenger bridge`: the school bridge's
// appservice registration. The bridge itself runs inside serve.
func bridgeCommand() *cli.Command {
	return &cli.Command{
		Name:  "bridge",
		Usage: "the school bridge (schools in rooms through their mailboxes); it runs inside serve",
		Subcommands: []*cli.Command{{
			Name:      "generate-registration",
			Usage:     "write the bridge's appservice registration for its homeserver (tokens of an existing file are kept)",
			UsageText: "landesmessenger bridge generate-registration -c FILE [--server-name NAME] [-o PATH]",
			Flags: []cli.Flag{configFlag(),
				&cli.StringFlag{Name: "server-name", Usage: "Matrix server `NAME` of the bridge's homeserver (default: from the config or the local stack)"},
				&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `PATH` (default: bridge.registration_file, or STACK_DIR/bridge/registration.yaml)"},
			},
			Action: bridgeGenerateRegistration,
		}, {
			Name:      "mailcatcher",
			Usage:     "run Mailpit (installed into the cache) as a local mail catcher for the bridge's outgoing mail, until interrupted",
			UsageText: "landesmessenger bridge mailcatcher [--smtp 127.0.0.1:1025] [--ui 127.0.0.1:8025] [--dir DIR]",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "smtp", Value: "127.0.0.1:1025", Usage: "SMTP `ADDRESS` (the bridge's relay; loopback)"},
				&cli.StringFlag{Name: "ui", Value: "127.0.0.1:8025", Usage: "web UI `ADDRESS` (loopback)"},
				&cli.StringFlag{Name: "dir", Value: ".demo/mailcatcher", Usage: "`DIR` for its database and log"},
			},
			Action: bridgeMailcatcher,
		}},
	}
}

func bridgeMailcatcher(c *cli.Context) error {
	log, err := newLogger(c, nil)
	if err != nil {
		return err
	}
	exe, err := stack.EnsureMailpit(c.Context, log)
	if err != nil {
		return err
	}
	mp, err := stack.StartMailpit(c.Context, exe, c.String("dir"), c.String("smtp"), c.String("ui"))
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "mail catcher (Mailpit %s, pid %d): SMTP %s, mails at %s\n", stack.MailpitVersion, mp.PID, mp.SMTPAddr, mp.APIURL)
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return mp.Stop()
}

func bridgeGenerateRegistration(c *cli.Context) error {
	cfg, _, err := loadConfigAndLogger(c)
	if err != nil {
		return err
	}
	if !cfg.Bridge.Enabled() {
		return cli.Exit(fmt.Sprintf("%s: no bridge section", cfg.Path), 2)
	}
	path := c.String("output")
	if path == "" {
		if path, err = service.BridgeRegistrationPath(cfg); err != nil {
			return err
		}
	}
	server := c.String("server-name")
	if server == "" {
		if server, err = bridgeServerName(cfg); err != nil {
			return err
		}
	}
	if _, err := bridge.WriteRegistration(path, server, cfg.Bridge.AppserviceListen); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "wrote %s for %s; load it in the homeserver's appservice configuration\n", path, server)
	return nil
}

// bridgeServerName is the server name of the bridge's homeserver: from the
// configuration, or from the local stack's stack.json.
func bridgeServerName(cfg *config.Config) (string, error) {
	hs, _ := cfg.Homeserver(cfg.Bridge.Homeserver)
	if !hs.FromStack() {
		return hs.ServerName, nil
	}
	st, err := stack.Load(cfg.StackDir)
	if err != nil {
		return "", fmt.Errorf("--server-name not given and no local stack: %w", err)
	}
	s, ok := st.Server(string(hs.Name))
	if !ok {
		return "", fmt.Errorf("homeserver %s is not in the local stack", hs.Name)
	}
	return s.ServerName, nil
}

// stackAppservices returns the stack's Appservices hook: with a bridge on a
// homeserver of the stack, it writes the bridge's registration for that
// server's name before the server starts.
func stackAppservices(cfg *config.Config, dir string) func(map[string]string) (map[string][]string, error) {
	if !cfg.Bridge.Enabled() {
		return nil
	}
	return func(serverNames map[string]string) (map[string][]string, error) {
		hs := string(cfg.Bridge.Homeserver)
		server, ok := serverNames[hs]
		if !ok {
			return nil, nil
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, err
		}
		c := *cfg
		c.StackDir = abs
		path, err := service.BridgeRegistrationPath(&c)
		if err != nil {
			return nil, err
		}
		if _, err := bridge.WriteRegistration(path, server, cfg.Bridge.AppserviceListen); err != nil {
			return nil, err
		}
		return map[string][]string{hs: {path}}, nil
	}
}
