package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/landesmessenger/landesmessenger/provisioning/reconcile"
)

// offboardingCommand is `landesmessenger offboarding`: the reports of the
// people who left.
func offboardingCommand() *cli.Command {
	return &cli.Command{
		Name:  "offboarding",
		Usage: "what became of the people who left: rooms left, power handed over, accounts closed",
		Subcommands: []*cli.Command{{
			Name:      "report",
			Usage:     "write one entry per person who left, oldest first",
			UsageText: "landesmessenger offboarding report -c FILE [--since TIME] [--format json|csv]",
			Flags: []cli.Flag{configFlag(),
				&cli.StringFlag{Name: "since", Usage: "only entries at or after `TIME` (RFC 3339, e.g. 2026-11-01T00:00:00Z, or a date 2026-11-01)"},
				&cli.StringFlag{Name: "format", Value: "json", Usage: "`FORMAT` json (an array) or csv (one line per person, hand-overs as ROOM>SUCCESSOR:LEVEL)"},
			},
			Action: offboardingReport,
		}},
	}
}

// offboardingEntry is an entry of the report as the command writes it.
type offboardingEntry struct {
	ID     int64     `json:"id"`
	At     time.Time `json:"at"`
	Person string    `json:"person"`
	UserID string    `json:"user_id"`
	Tenant string    `json:"tenant"`
	reconcile.OffboardingDetail
}

func offboardingReport(c *cli.Context) error {
	format := c.String("format")
	if format != "json" && format != "csv" {
		return fmt.Errorf("--format %q: want json or csv", format)
	}
	since, err := sinceFlag(c)
	if err != nil {
		return err
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
	reports, err := st.OffboardingReports(c.Context, since)
	if err != nil {
		return err
	}
	entries := make([]offboardingEntry, 0, len(reports))
	for _, r := range reports {
		e := offboardingEntry{ID: r.ID, At: r.At.UTC(), Person: r.Person, UserID: r.UserID, Tenant: r.Tenant}
		if err := json.Unmarshal([]byte(r.Detail), &e.OffboardingDetail); err != nil {
			return fmt.Errorf("offboarding report %d: %w", r.ID, err)
		}
		entries = append(entries, e)
	}
	if format == "json" {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		return enc.Encode(entries)
	}
	w := csv.NewWriter(c.App.Writer)
	_ = w.Write([]string{"id", "at", "person", "user_id", "tenant", "outcome", "erase", "rooms_left", "handovers"})
	for _, e := range entries {
		rooms := make([]string, len(e.RoomsLeft))
		for i, r := range e.RoomsLeft {
			rooms[i] = string(r)
		}
		handovers := make([]string, len(e.Handovers))
		for i, h := range e.Handovers {
			handovers[i] = fmt.Sprintf("%s>%s:%d", h.Room, h.Successor, h.Level)
		}
		_ = w.Write([]string{strconv.FormatInt(e.ID, 10), e.At.Format(time.RFC3339), e.Person, e.UserID, e.Tenant, e.Outcome, e.Erase,
			strings.Join(rooms, " "), strings.Join(handovers, " ")})
	}
	w.Flush()
	return w.Error()
}
