package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/landesmessenger/landesmessenger/bots/onboarding"
	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/service"
)

// onboardingCommand is `landesmessenger onboarding`: the data-protection
// instruction and who acknowledged it.
func onboardingCommand() *cli.Command {
	return &cli.Command{
		Name:  "onboarding",
		Usage: "the data-protection instruction and its acknowledgements",
		Subcommands: []*cli.Command{{
			Name:      "report",
			Usage:     "one entry per person: acknowledged, pending or overdue (docs/lifecycle.md)",
			UsageText: "landesmessenger onboarding report -c FILE [--tenant TENANT] [--format csv|json]",
			Flags: []cli.Flag{configFlag(),
				&cli.StringFlag{Name: "tenant", Usage: "only the people of `TENANT`"},
				&cli.StringFlag{Name: "format", Value: "csv", Usage: "csv (with a header line) or json (one object per line)"},
			},
			Action: onboardingReport,
		}},
	}
}

func onboardingReport(c *cli.Context) error {
	write := map[string]func(w io.Writer, e []onboarding.Entry) error{
		"csv":  func(w io.Writer, e []onboarding.Entry) error { return onboarding.WriteCSV(w, e) },
		"json": func(w io.Writer, e []onboarding.Entry) error { return onboarding.WriteJSON(w, e) },
	}[c.String("format")]
	if write == nil {
		return fmt.Errorf("--format %q: want csv or json", c.String("format"))
	}
	cfg, log, err := loadConfigAndLogger(c)
	if err != nil {
		return err
	}
	st, err := openStore(c, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	entries, err := service.OnboardingReport(c.Context, cfg, st, log, config.TenantID(c.String("tenant")))
	if err != nil {
		return err
	}
	return write(c.App.Writer, entries)
}
