package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/landesmessenger/landesmessenger/records"
	"github.com/landesmessenger/landesmessenger/store"
)

// archiveCommand is `landesmessenger archive`: the records archive.
func archiveCommand() *cli.Command {
	return &cli.Command{
		Name:  "archive",
		Usage: "the records archive (Aktenführung): verify its hash chain, export cases and rooms",
		Subcommands: []*cli.Command{
			{
				Name:      "verify",
				Usage:     "walk the hash chain; exit 0 if it is intact, 1 naming the first broken entry",
				UsageText: "landesmessenger archive verify -c FILE [--anchor SEQ:HASH ...]",
				Flags: []cli.Flag{configFlag(),
					&cli.StringSliceFlag{Name: "anchor", Usage: "`SEQ:HASH` of an entry noted down earlier (the head a verify printed): check the chain still holds it (repeatable)"},
				},
				Action: archiveVerify,
			},
			{
				Name:      "export",
				Usage:     "write the entries of a case or a room as JSON lines, their attachments, and a readable HTML document per case",
				UsageText: "landesmessenger archive export -c FILE --case AZ | --room ROOM [--out DIR]",
				Flags: []cli.Flag{configFlag(),
					&cli.StringFlag{Name: "case", Usage: "the case reference `AZ` (Aktenzeichen), e.g. HMdIS-Z-12/2026"},
					&cli.StringFlag{Name: "room", Usage: "the `ROOM`: a room key (hmdis/allgemein) or a room ID (!…)"},
					&cli.StringFlag{Name: "out", Value: "akten-export", Usage: "the folder `DIR` to write to (created if needed; files of the same name are replaced)"},
				},
				Action: archiveExport,
			},
		},
	}
}

// openConfiguredStore opens the service database of the configuration -c names.
func openConfiguredStore(c *cli.Context) (*store.Store, error) {
	cfg, log, err := loadConfigAndLogger(c)
	if err != nil {
		return nil, err
	}
	st, err := openStore(c, cfg, log)
	if err != nil {
		return nil, err
	}
	return st, nil
}

func archiveVerify(c *cli.Context) error {
	var anchors []records.Head
	for _, s := range c.StringSlice("anchor") {
		h, err := records.ParseHead(s)
		if err != nil {
			return fmt.Errorf("--anchor: %w", err)
		}
		anchors = append(anchors, h)
	}
	st, err := openConfiguredStore(c)
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := records.Verify(c.Context, st, anchors...)
	if err != nil {
		return err
	}
	if res.Break != nil {
		return cli.Exit(fmt.Sprintf("archive broken: %v (%d entries intact before it)", res.Break, res.Entries), 1)
	}
	fmt.Fprintf(c.App.Writer, "%d entries, chain intact\nhead: %s\n", res.Entries, res.Head)
	return nil
}

func archiveExport(c *cli.Context) error {
	opts := records.ExportOptions{Room: c.String("room"), Dir: c.String("out"), Now: time.Now()}
	if (c.String("case") == "") == (opts.Room == "") {
		return cli.Exit("landesmessenger: archive export: give either --case AZ or --room ROOM", 2)
	}
	if s := c.String("case"); s != "" {
		ref, err := records.ParseCaseRef(s)
		if err != nil {
			return fmt.Errorf("--case: %w", err)
		}
		opts.Case = ref
	}
	st, err := openConfiguredStore(c)
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := records.Export(c.Context, st, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "%d entries exported to %s (%d files)\n", res.Entries, opts.Dir, len(res.Files))
	if res.Verify.Break != nil {
		return cli.Exit(fmt.Sprintf("archive broken: %v: the export says so", res.Verify.Break), 1)
	}
	fmt.Fprintf(c.App.Writer, "chain intact, head: %s\n", res.Verify.Head)
	return nil
}
