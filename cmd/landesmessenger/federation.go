package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/federation"
)

// nowEnv overrides the clock of sign, verify, show and homeserver-config,
// for tests and audits ("was this list valid on that day?"). The gate
// always runs on the real clock.
const nowEnv = "LM_FEDERATION_NOW"

func federationCommand() *cli.Command {
	return &cli.Command{
		Name:  "federation",
		Usage: "make, sign and check the Land's federation list; render homeserver settings from it; run the federation gate",
		Description: "The federation list names the Land's homeservers and which of them may federate with which;\n" +
			"the IT authority signs it with Ed25519. The variable " + nowEnv + " (RFC 3339) sets the clock of\n" +
			"sign, verify, show and homeserver-config, for tests and audits.",
		Subcommands: []*cli.Command{
			{
				Name:      "keygen",
				Usage:     "make a signing key: PREFIX (private, mode 0600) and PREFIX.pub; prints the key ID",
				UsageText: "landesmessenger federation keygen --out PREFIX",
				Flags:     []cli.Flag{&cli.StringFlag{Name: "out", Usage: "write the key to `PREFIX` and PREFIX.pub (never overwritten)", Required: true}},
				Action:    federationKeygen,
			},
			{
				Name:      "sign",
				Usage:     "sign a federation list and print the signed list",
				UsageText: "landesmessenger federation sign -k PREFIX LIST   (LIST - reads standard input)",
				Flags:     []cli.Flag{&cli.StringFlag{Name: "key", Aliases: []string{"k"}, Usage: "private key `FILE` written by keygen", Required: true}},
				Action:    federationSign,
			},
			{
				Name:      "verify",
				Usage:     "check a signed federation list: exit 0 and a summary if valid, else exit 1 and the reason",
				UsageText: "landesmessenger federation verify -p PREFIX.pub [-p ...] LIST   (LIST: file, https URL or - for standard input)",
				Flags:     []cli.Flag{publicKeyFlag(true)},
				Action:    federationVerify,
			},
			{
				Name:      "show",
				Usage:     "print a verified federation list as a table",
				UsageText: "landesmessenger federation show (-p FILE LIST | --list LIST --public-key FILE | -c CONFIG)",
				Flags:     []cli.Flag{listFlag(), publicKeyFlag(false), optionalConfigFlag()},
				Action:    federationShow,
			},
			{
				Name:      "homeserver-config",
				Usage:     "print the federation settings of one homeserver (YAML to merge into its configuration)",
				UsageText: "landesmessenger federation homeserver-config --homeserver NAME [--implementation synapse|dendrite] (--list FILE|URL --public-key FILE | -c CONFIG)",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "homeserver", Usage: "the homeserver: its `NAME` on the list or in the configuration, or its server name", Required: true},
					&cli.StringFlag{Name: "implementation", Usage: "synapse or dendrite (default: print both)"},
					listFlag(), publicKeyFlag(false), optionalConfigFlag(),
				},
				Action: federationHomeserverConfig,
			},
			{
				Name:  "gate",
				Usage: "run the federation gate in front of a homeserver's federation listener until SIGINT or SIGTERM",
				UsageText: "landesmessenger federation gate --listen ADDR --upstream URL --tls-cert FILE --tls-key FILE --server-name NAME\n" +
					"   (--list FILE|URL --public-key FILE | -c CONFIG) [--refresh 30s] [--upstream-ca FILE] [--upstream-tls-name NAME]",
				Description: "The gate passes federation requests to the homeserver only from servers the federation list admits.\n" +
					"It refuses to start without a valid list that names --server-name; later it keeps the last good list\n" +
					"when a new one is refused. The upstream's certificate is checked against the system's roots and the\n" +
					"gate's own --tls-cert (the gate usually serves the homeserver's certificate), or against --upstream-ca.",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "listen", Usage: "listen on `ADDR` (host:port)", Required: true},
					&cli.StringFlag{Name: "upstream", Usage: "base `URL` of the homeserver's federation listener (http only on loopback)", Required: true},
					&cli.StringFlag{Name: "tls-cert", Usage: "TLS certificate `FILE` (PEM) the gate serves", Required: true},
					&cli.StringFlag{Name: "tls-key", Usage: "TLS key `FILE` (PEM) of --tls-cert", Required: true},
					&cli.StringFlag{Name: "server-name", Usage: "Matrix server `NAME` of the homeserver behind the gate", Required: true},
					listFlag(), publicKeyFlag(false), optionalConfigFlag(),
					&cli.DurationFlag{Name: "refresh", Usage: "load the list again this often (a list file also when it changes)", Value: federation.DefaultRefresh},
					&cli.StringFlag{Name: "state", Usage: "keep the list in force in `FILE`, so that after a restart an older list is still refused and a bad one does not stop the gate"},
					&cli.StringFlag{Name: "upstream-ca", Usage: "trust only the certificates in `FILE` (PEM) for the upstream"},
					&cli.StringFlag{Name: "upstream-tls-name", Usage: "the `NAME` the upstream's certificate must carry (default: the upstream URL's host)"},
				},
				Action: federationGate,
			},
		},
	}
}

func listFlag() cli.Flag {
	return &cli.StringFlag{Name: "list", Usage: "the signed federation list: `FILE` or https URL (default: from -c)"}
}

func publicKeyFlag(required bool) cli.Flag {
	return &cli.StringSliceFlag{Name: "public-key", Aliases: []string{"p"}, Usage: "trusted public key `FILE` written by keygen; repeatable (default: from -c)", Required: required}
}

func optionalConfigFlag() cli.Flag {
	return &cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "configuration `FILE` whose federation section names the list and keys"}
}

func federationKeygen(c *cli.Context) error {
	prefix := c.String("out")
	for _, p := range []string{prefix, prefix + ".pub"} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("keygen: %s exists; refusing to overwrite a key", p)
		}
	}
	k, err := federation.GenerateKey()
	if err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	if err := federation.WriteKeyPair(prefix, k); err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	fmt.Fprintln(c.App.Writer, k.ID)
	fmt.Fprintf(c.App.ErrWriter, "wrote %s (keep it secret) and %s\n", prefix, prefix+".pub")
	return nil
}

func federationSign(c *cli.Context) error {
	if c.NArg() != 1 {
		return cli.Exit("sign: name one LIST file (or - for standard input)", 2)
	}
	now, err := federationNow()
	if err != nil {
		return err
	}
	k, err := federation.ReadPrivateKey(c.String("key"))
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	doc, err := readListDocument(c, c.Args().First())
	if err != nil {
		return err
	}
	signed, err := federation.Sign(doc, k, now)
	if err != nil {
		return refusal(err)
	}
	_, err = c.App.Writer.Write(signed)
	return err
}

func federationVerify(c *cli.Context) error {
	if c.NArg() != 1 {
		return cli.Exit("verify: name one LIST (file, https URL or - for standard input)", 2)
	}
	keys, err := federation.ReadPublicKeys(c.StringSlice("public-key"))
	if err != nil {
		return err
	}
	l, err := verifiedList(c, c.Args().First(), keys)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "federation list ok: version %d, issuer %q, expires %s, %d homeservers\n",
		l.Version, l.Issuer, l.ExpiresAt.UTC().Format(time.RFC3339), len(l.Homeservers))
	return nil
}

func federationShow(c *cli.Context) error {
	l, _, err := configuredList(c)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "Federation list version %d, issued by %s on %s, valid until %s\n\n", l.Version, l.Issuer,
		l.IssuedAt.UTC().Format(time.RFC3339), l.ExpiresAt.UTC().Format(time.RFC3339))
	w := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "SERVER\tNAME\tTENANT\tFEDERATES WITH\tEXTERNAL")
	for _, e := range l.Homeservers {
		partners := make([]string, 0, len(e.FederatesWith))
		for _, p := range l.Partners(e.ServerName) {
			partners = append(partners, string(p))
		}
		with, external := strings.Join(partners, ", "), "no"
		if with == "" {
			with = "-"
		}
		if e.External {
			external = "yes"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", e.ServerName, orDash(e.Name), e.Tenant, with, external)
	}
	return w.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func federationHomeserverConfig(c *cli.Context) error {
	impls := federation.Implementations
	if s := c.String("implementation"); s != "" {
		impl, err := federation.ParseImplementation(s)
		if err != nil {
			return err
		}
		impls = []federation.Implementation{impl}
	}
	l, cfg, err := configuredList(c)
	if err != nil {
		return err
	}
	self, err := resolveHomeserver(l, cfg, c.String("homeserver"))
	if err != nil {
		return err
	}
	for i, impl := range impls {
		out, err := federation.HomeserverConfig(l, self, impl)
		if err != nil {
			return err
		}
		if i > 0 {
			fmt.Fprintln(c.App.Writer)
		}
		if len(impls) > 1 {
			fmt.Fprintf(c.App.Writer, "# ---- %s: merge into %s ----\n", impl, configFileOf(impl))
		}
		fmt.Fprint(c.App.Writer, out)
	}
	return nil
}

func configFileOf(impl federation.Implementation) string {
	if impl == federation.Synapse {
		return "homeserver.yaml"
	}
	return "dendrite.yaml"
}

// resolveHomeserver finds the server name of homeserver name: an entry of
// the list with that name or server name, else a homeserver of the
// configuration with that name.
func resolveHomeserver(l *federation.List, cfg *config.Config, name string) (federation.ServerName, error) {
	for _, e := range l.Homeservers {
		if e.Name == name || string(e.ServerName) == name {
			return e.ServerName, nil
		}
	}
	if cfg != nil {
		for _, hs := range cfg.Homeservers {
			if string(hs.Name) == name && hs.ServerName != "" {
				return federation.ServerName(hs.ServerName), nil
			}
		}
	}
	names := make([]string, len(l.Homeservers))
	for i, e := range l.Homeservers {
		names[i] = fmt.Sprintf("%s (%s)", orDash(e.Name), e.ServerName)
	}
	return "", fmt.Errorf("homeserver %q is not on federation list version %d; it names %s", name, l.Version, strings.Join(names, ", "))
}

func federationGate(c *cli.Context) error {
	source, keyFiles, cfg, err := listSource(c)
	if err != nil {
		return err
	}
	log, err := newLogger(c, cfg)
	if err != nil {
		return err
	}
	keys, err := federation.ReadPublicKeys(keyFiles)
	if err != nil {
		return err
	}
	self := federation.ServerName(c.String("server-name"))
	upstream, err := gateUpstream(c.String("upstream"))
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(c.String("tls-cert"), c.String("tls-key"))
	if err != nil {
		return fmt.Errorf("gate: TLS certificate: %w", err)
	}
	transport, err := gateTransport(c, cert)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()

	watcher := &federation.Watcher{Source: source, Keys: keys, Refresh: c.Duration("refresh"), Log: log, State: c.String("state")}
	if err := watcher.Check(ctx); err != nil && watcher.List() == nil {
		return refusal(err)
	}
	if !watcher.List().Listed(self) {
		return fmt.Errorf("gate: %s is not on federation list version %d: the gate would refuse every server", self, watcher.List().Version)
	}
	gate := &federation.Gate{Self: self, Upstream: upstream, List: watcher.List, Log: log, Transport: transport}
	ln, err := net.Listen("tcp", c.String("listen"))
	if err != nil {
		return fmt.Errorf("gate: %w", err)
	}
	srv := &http.Server{
		Handler:           gate,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          stdlog.New(serverErrorLog{log}, "", 0),
	}
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(ln, "", "") }()
	go watcher.Run(ctx)
	log.WithFields(logrus.Fields{"listen": ln.Addr().String(), "upstream": upstream.String(), "server_name": self,
		"list_version": watcher.List().Version}).Info("ready")
	select {
	case err := <-served:
		return fmt.Errorf("gate: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		log.WithError(err).Warn("gate: requests still open at shutdown")
	}
	log.Info("stopped")
	return nil
}

// serverErrorLog passes the gate's HTTP server errors to the log: failed
// TLS handshakes (port probes, scanners) at debug level, others as
// warnings.
type serverErrorLog struct{ log logrus.FieldLogger }

func (w serverErrorLog) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	entry := w.log.WithField("error", msg)
	if strings.Contains(msg, "TLS handshake error") {
		entry.Debug("gate: TLS handshake failed")
	} else {
		entry.Warn("gate: HTTP server error")
	}
	return len(p), nil
}

// gateUpstream parses the upstream URL: https, or http on a loopback
// address, since the requests carry the federation traffic in clear.
func gateUpstream(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("gate: --upstream %q: want an https URL, or http on loopback", raw)
	}
	if u.Scheme == "http" {
		ip := net.ParseIP(u.Hostname())
		if u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil, fmt.Errorf("gate: --upstream %q: plain http only to a loopback address", raw)
		}
	}
	return u, nil
}

// gateTransport trusts, for the upstream, the certificates of
// --upstream-ca, or else the system's roots and the gate's own
// certificate.
func gateTransport(c *cli.Context, own tls.Certificate) (*http.Transport, error) {
	var roots *x509.CertPool
	if f := c.String("upstream-ca"); f != "" {
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("gate: --upstream-ca: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("gate: --upstream-ca %s: no PEM certificate", f)
		}
	} else {
		var err error
		if roots, err = x509.SystemCertPool(); err != nil {
			roots = x509.NewCertPool()
		}
		for _, der := range own.Certificate {
			if cert, err := x509.ParseCertificate(der); err == nil {
				roots.AddCert(cert)
			}
		}
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.TLSClientConfig = &tls.Config{RootCAs: roots, ServerName: c.String("upstream-tls-name"), MinVersion: tls.VersionTLS12}
	return t, nil
}

// configuredList loads and verifies the list named by --list and
// --public-key or by the configuration's federation section.
func configuredList(c *cli.Context) (*federation.List, *config.Config, error) {
	source, keyFiles, cfg, err := listSource(c)
	if err != nil {
		return nil, nil, err
	}
	keys, err := federation.ReadPublicKeys(keyFiles)
	if err != nil {
		return nil, nil, err
	}
	l, err := verifiedList(c, source, keys)
	return l, cfg, err
}

// listSource returns the list (--list, or the one argument) and the key
// files from the flags, falling back to the configuration named by -c.
func listSource(c *cli.Context) (source string, keyFiles []string, cfg *config.Config, err error) {
	source, keyFiles = c.String("list"), c.StringSlice("public-key")
	switch {
	case c.NArg() > 1 || (c.NArg() == 1 && source != ""):
		return "", nil, nil, cli.Exit("name one list: --list LIST or LIST", 2)
	case c.NArg() == 1:
		source = c.Args().First()
	}
	if c.String("config") != "" {
		if cfg, err = loadConfig(c); err != nil {
			return "", nil, nil, err
		}
		if cfg.Federation != nil {
			if source == "" {
				source = cfg.Federation.List
			}
			if len(keyFiles) == 0 {
				keyFiles = cfg.Federation.PublicKeyFiles
			}
		}
	}
	if source == "" {
		return "", nil, nil, errors.New("no federation list: name it with --list, or with -c and a configuration that has a federation section")
	}
	return source, keyFiles, cfg, nil
}

// verifiedList reads the list document from source (a file, an https URL
// or - for standard input) and verifies it at the clock of nowEnv.
func verifiedList(c *cli.Context, source string, keys []federation.PublicKey) (*federation.List, error) {
	now, err := federationNow()
	if err != nil {
		return nil, err
	}
	doc, err := readListDocument(c, source)
	if err != nil {
		return nil, err
	}
	l, err := federation.Verify(doc, keys, now)
	if err != nil {
		return nil, refusal(err)
	}
	return l, nil
}

func readListDocument(c *cli.Context, source string) ([]byte, error) {
	if source == "-" {
		doc, err := io.ReadAll(io.LimitReader(c.App.Reader, 4<<20))
		if err != nil {
			return nil, fmt.Errorf("read federation list from standard input: %w", err)
		}
		return doc, nil
	}
	return federation.Fetch(c.Context, nil, source)
}

// refusal turns a refused list into exit code 1 with the refusal alone on
// standard error ("federation list refused: REASON: detail").
func refusal(err error) error {
	if federation.ReasonOf(err) != "" {
		return cli.Exit(err.Error(), 1)
	}
	return err
}

// federationNow returns the clock: now, or the time in nowEnv.
func federationNow() (time.Time, error) {
	v := os.Getenv(nowEnv)
	if v == "" {
		return time.Now(), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s=%q: want an RFC 3339 time such as 2027-01-01T00:00:00Z", nowEnv, v)
	}
	return t, nil
}
