package main

import (
	"encoding/json"
	"fmt"

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
		}, {
			Name:      "verify",
			Usage:     "walk the audit trail's hash chain; exit 0 if it is intact, 1 naming the first broken entry",
			UsageText: "landesmessenger audit verify -c FILE",
			Flags:     []cli.Flag{configFlag()},
			Action:    auditVerify,
		}},
	}
}

func auditVerify(c *cli.Context) error {
	st, err := openConfiguredStore(c)
	if err != nil {
		return err
	}
	defer st.Close()
	v, err := st.VerifyAudit(c.Context)
	if err != nil {
		return err
	}
	if v.Break != nil {
		return cli.Exit(fmt.Sprintf("audit trail broken: %v (%d entries intact before it)", v.Break, v.Entries), 1)
	}
	fmt.Fprintf(c.App.Writer, "%d entries, chain intact (%d older entries before the chain)\nhead: %s\n", v.Entries, v.Unchained, v.Head)
	return nil
}

func auditExport(c *cli.Context) error {
	f := store.AuditFilter{Sender: c.String("user"), Tenant: c.String("tenant")}
	since, err := sinceFlag(c)
	if err != nil {
		return err
	}
	f.Since = since
	st, err := openConfiguredStore(c)
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
