package main

import (
	"encoding/json"

	"github.com/urfave/cli/v2"

	"github.com/landesmessenger/landesmessenger/store"
)

// auditCommand is `landesmessenger audit`: the admin bot's audit trail.
func auditCommand() *cli.Command {
	return &cli.Command{
		Name:  "audit",
		Usage: "the admin bot's audit trail",
		Subcommands: []*cli.Command{{
			Name:      "export",
			Usage:     "write the audit trail as JSON lines, oldest first",
			UsageText: "landesmessenger audit export -c FILE [--since TIME] [--user @USER:SERVER] [--tenant TENANT]",
			Flags: []cli.Flag{configFlag(),
				&cli.StringFlag{Name: "since", Usage: "only entries at or after `TIME` (RFC 3339, e.g. 2026-11-01T00:00:00Z, or a date 2026-11-01)"},
				&cli.StringFlag{Name: "user", Usage: "only commands of this Matrix `USER`"},
				&cli.StringFlag{Name: "tenant", Usage: "only entries about this `TENANT`"},
			},
			Action: auditExport,
		}},
	}
}

func auditExport(c *cli.Context) error {
	cfg, log, err := loadConfigAndLogger(c)
	if err != nil {
		return err
	}
	f := store.AuditFilter{Sender: c.String("user"), Tenant: c.String("tenant")}
	since, err := sinceFlag(c)
	if err != nil {
		return err
	}
	f.Since = since
	st, err := openStore(c, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	entries, err := st.Audit(c.Context, f)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(c.App.Writer)
	for _, e := range entries {
		e.At = e.At.UTC()
		if err := enc.Encode(e); err != nil {
			return err
		}
	}
	return nil
}
