package main

import (
	"encoding/json"
	"time"

	"github.com/urfave/cli/v2"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/store"
)

// retentionCommand is `landesmessenger retention`: the deletion log for the
// data-protection officer.
func retentionCommand() *cli.Command {
	return &cli.Command{
		Name:  "retention",
		Usage: "retention: the deletion log",
		Subcommands: []*cli.Command{{
			Name:      "log",
			Usage:     "write the deletion log as JSON lines, oldest first: what was deleted, when, under which policy (never the content)",
			UsageText: "landesmessenger retention log -c FILE [--since TIME] [--room ROOM_KEY] [--sender @USER:SERVER]",
			Flags: []cli.Flag{configFlag(),
				&cli.StringFlag{Name: "since", Usage: "only deletions at or after `TIME` (RFC 3339 or a date 2026-11-01)"},
				&cli.StringFlag{Name: "room", Usage: "only deletions in this managed room (`ROOM_KEY`, e.g. polizei/allgemein)"},
				&cli.StringFlag{Name: "sender", Usage: "only messages of this Matrix `USER`"},
			},
			Action: retentionLog,
		}},
	}
}

// deletionLine is one line of `retention log`.
type deletionLine struct {
	At      time.Time `json:"at"`
	RoomKey string    `json:"room_key"`
	RoomID  string    `json:"room_id"`
	EventID string    `json:"event_id"`
	Sender  string    `json:"sender"`
	SentAt  time.Time `json:"sent_at"`
	Policy  string    `json:"policy"`
	Method  string    `json:"method"`
}

func retentionLog(c *cli.Context) error {
	cfg, log, err := loadConfigAndLogger(c)
	if err != nil {
		return err
	}
	f := store.DeletionFilter{RoomKey: c.String("room"), Sender: id.UserID(c.String("sender"))}
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
	entries, err := st.DeletionLog(c.Context, f)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(c.App.Writer)
	for _, d := range entries {
		line := deletionLine{At: d.At.UTC(), RoomKey: d.RoomKey, RoomID: string(d.RoomID), EventID: string(d.EventID),
			Sender: string(d.Sender), SentAt: d.SentAt.UTC(), Policy: d.Policy, Method: d.Method}
		if err := enc.Encode(line); err != nil {
			return err
		}
	}
	return nil
}
