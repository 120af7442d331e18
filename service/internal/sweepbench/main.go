// Command sweepbench prepares and runs the baseline of the retention
// benchmark (scripts/bench-retention.sh) on a running stack whose
// configuration has three sets of cross-tenant rooms, PREFIX-l-NN (the
// plain loop's), PREFIX-s-NN (swept) and PREFIX-f-NN (swept, with the
// archive bot, 10 % marked):
//
//	sweepbench -c FILE seed   sends MSGS messages into every room of the three
//	                          sets as the service account; in the f set every
//	                          tenth message gets a 📁 and each room one
//	                          "!akte" reply first, so its case is known. It
//	                          prints the time of the last mark (RFC 3339).
//	sweepbench -c FILE loop   reads the l rooms' messages (not timed), then
//	                          redacts them all, room after room with
//	                          service.RedactConcurrency in flight, as the
//	                          sweep does, and prints one JSON line with the
//	                          count and the time.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/bots/matrixbot"
	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/provisioning"
	"github.com/landesmessenger/landesmessenger/service"
)

func main() {
	cfgPath := flag.String("c", "", "configuration file")
	prefix := flag.String("prefix", "bench", "prefix of the benchmark rooms' ids")
	rooms := flag.Int("rooms", 50, "rooms per set")
	msgs := flag.Int("msgs", 400, "messages per room")
	host := flag.String("host", "land", "homeserver of the rooms")
	flag.Parse()
	if *cfgPath == "" || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: sweepbench -c FILE [flags] seed|loop")
		os.Exit(2)
	}
	ctx := context.Background()
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fail(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	svc, err := service.Start(ctx, cfg, log, "bench")
	if err != nil {
		fail(err)
	}
	defer svc.Stop()
	var cli *mautrix.Client
	for _, c := range svc.Conns {
		if c.Endpoint.Name == *host {
			cli = c.Client
		}
	}
	if cli == nil {
		fail(fmt.Errorf("no homeserver %s", *host))
	}
	_, server, _ := cli.UserID.Parse()
	room := func(set string, i int) id.RoomID {
		key := provisioning.CrossRoomKey(config.RoomID(fmt.Sprintf("%s-%s-%02d", *prefix, set, i)))
		resp, err := cli.ResolveAlias(ctx, id.NewRoomAlias(provisioning.AliasOf(key), server))
		if err != nil {
			fail(fmt.Errorf("room %s: %w", key, err))
		}
		return resp.RoomID
	}

	switch flag.Arg(0) {
	case "seed":
		var last time.Time
		for _, set := range []string{"f", "s", "l"} {
			for i := 1; i <= *rooms; i++ {
				if t := seed(ctx, cli, room(set, i), *msgs, set == "f"); t.After(last) {
					last = t
				}
			}
			fmt.Fprintf(os.Stderr, "seeded set %s\n", set)
		}
		fmt.Println(last.UTC().Format(time.RFC3339Nano))
	case "loop":
		var events [][]id.EventID
		var ids []id.RoomID
		n := 0
		for i := 1; i <= *rooms; i++ {
			rid := room("l", i)
			var evs []id.EventID
			err := matrixbot.Timeline(ctx, cli, rid, func(evt *event.Event) error {
				if evt.StateKey == nil && evt.Type == event.EventMessage && evt.Unsigned.RedactedBecause == nil {
					evs = append(evs, evt.ID)
				}
				return nil
			})
			if err != nil {
				fail(err)
			}
			events, ids = append(events, evs), append(ids, rid)
			n += len(evs)
		}
		start := time.Now()
		for i, rid := range ids {
			redactAll(ctx, cli, rid, events[i])
		}
		took := time.Since(start)
		_ = json.NewEncoder(os.Stdout).Encode(map[string]any{"redacted": n, "took_ms": took.Milliseconds()})
	default:
		fail(fmt.Errorf("unknown step %q", flag.Arg(0)))
	}
}

// seed sends msgs messages into room, 16 at a time, and in a marked room
// a "!akte" reply to the first and a 📁 on every tenth. It returns when the
// last mark was sent.
func seed(ctx context.Context, cli *mautrix.Client, room id.RoomID, msgs int, marked bool) time.Time {
	ids := make([]id.EventID, msgs)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range msgs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			resp, err := cli.SendText(ctx, room, fmt.Sprintf("Benchmark-Nachricht %d", i))
			if err != nil {
				fail(err)
			}
			ids[i] = resp.EventID
		}()
	}
	wg.Wait()
	if !marked {
		return time.Time{}
	}
	reply := &event.MessageEventContent{MsgType: event.MsgText, Body: "!akte BENCH-1/2026"}
	reply.RelatesTo = (&event.RelatesTo{}).SetReplyTo(ids[0])
	if _, err := cli.SendMessageEvent(ctx, room, event.EventMessage, reply); err != nil {
		fail(err)
	}
	for i := 10; i < msgs; i += 10 {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if _, err := cli.SendReaction(ctx, room, ids[i], "📁"); err != nil {
				fail(err)
			}
		}()
	}
	wg.Wait()
	return time.Now()
}

// redactAll redacts events with service.RedactConcurrency in flight.
func redactAll(ctx context.Context, cli *mautrix.Client, room id.RoomID, events []id.EventID) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, service.RedactConcurrency)
	for _, e := range events {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if _, err := cli.RedactEvent(ctx, room, e, mautrix.ReqRedact{Reason: "benchmark"}); err != nil {
				fail(err)
			}
		}()
	}
	wg.Wait()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "sweepbench:", err)
	os.Exit(1)
}
