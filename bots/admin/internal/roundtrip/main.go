// Command roundtrip measures the admin bot's command round trip against the
// homeserver's own echo, side by side, on a running demo stack with serve:
//
//   - echo: a Land admin sends an encrypted message into the Land admin room;
//     the time until a second member (the auditor) has it decrypted;
//   - command: the Land admin sends `!status`; the time until the admin has
//     the bot's encrypted reply.
//
// The two alternate, N times each. It prints one JSON line with the
// percentiles and the ratio. scripts/bench-bot.sh runs it.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/internal/e2eetest"
)

// run is a T for the e2eetest client outside tests.
type run struct {
	cleanups []func()
	dir      string
}

func (r *run) Helper() {}
func (r *run) Fatalf(format string, args ...any) {
	r.close()
	fmt.Fprintf(os.Stderr, "roundtrip: "+format+"\n", args...)
	os.Exit(1)
}
func (r *run) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }
func (r *run) TempDir() string {
	d, err := os.MkdirTemp(r.dir, "client")
	if err != nil {
		r.Fatalf("%v", err)
	}
	return d
}
func (r *run) close() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
	r.cleanups = nil
}

func main() {
	url := flag.String("client-url", "", "client URL of the homeserver with the Land admin room")
	alias := flag.String("alias", "", "alias of the Land admin room (#lm.rooms.verwaltung:SERVER)")
	admin := flag.String("admin", "", "user ID of a Land admin")
	adminPW := flag.String("admin-password", "", "password of the Land admin")
	peer := flag.String("peer", "", "user ID of a second member of the room")
	peerPW := flag.String("peer-password", "", "password of the second member")
	bot := flag.String("bot", "", "user ID of the admin bot")
	n := flag.Int("n", 200, "round trips of each kind")
	flag.Parse()

	dir, err := os.MkdirTemp("", "roundtrip")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	r := &run{dir: dir}
	defer r.close()
	a := e2eetest.Login(r, *url, id.UserID(*admin), *adminPW)
	res, err := a.Cli.ResolveAlias(context.Background(), id.RoomAlias(*alias))
	if err != nil {
		r.Fatalf("resolve %s: %v", *alias, err)
	}
	rid := res.RoomID
	p := e2eetest.Login(r, *url, id.UserID(*peer), *peerPW)
	a.WaitEncrypted(r, rid)
	p.WaitEncrypted(r, rid)

	var echo, cmd []time.Duration
	for i := 0; i < *n; i++ {
		start := time.Now()
		ev := a.Say(r, rid, fmt.Sprintf("Echo %d", i))
		p.Seen(r, rid, ev)
		echo = append(echo, time.Since(start))

		start = time.Now()
		ev = a.Say(r, rid, "!status")
		a.Reply(r, rid, ev, id.UserID(*bot))
		cmd = append(cmd, time.Since(start))
	}
	pe, pc := percentiles(echo), percentiles(cmd)
	out, _ := json.Marshal(map[string]any{
		"n": *n, "echo_p50_ms": pe[0], "echo_p95_ms": pe[1], "command_p50_ms": pc[0], "command_p95_ms": pc[1],
		"ratio_p50": round(pc[0] / pe[0]), "ratio_p95": round(pc[1] / pe[1]),
	})
	fmt.Println(string(out))
}

func percentiles(d []time.Duration) [2]float64 {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	at := func(q float64) float64 {
		return round(float64(s[int(q*float64(len(s)-1))].Microseconds()) / 1000)
	}
	return [2]float64{at(0.5), at(0.95)}
}

func round(x float64) float64 { return float64(int(x*100+0.5)) / 100 }
