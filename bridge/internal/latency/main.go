// Command latency measures the school bridge's latency on a running demo
// stack with serve and a mail catcher, side by side with the homeserver's
// own echo (scripts/bench-bridge.sh runs it):
//
//   - echo: a member's message until the member's own /sync has it;
//   - matrix->mail: the same message until the mail catcher (the relay)
//     has accepted its mail (Mailpit's receive time);
//   - mail->event: a school's mail handed to the bridge's SMTP server until
//     the member's /sync has the school's message.
//
// Both directions run at -rate messages per second for -duration. It
// prints one JSON line with p50 and p99 of each.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/landesmessenger/landesmessenger/internal/dkimtest"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

func main() {
	url := flag.String("client-url", "", "client URL of the bridge's homeserver")
	user := flag.String("user", "", "member of the bridged room")
	password := flag.String("password", "", "the member's password")
	room := flag.String("room", "", "the bridged room's ID")
	smtpAddr := flag.String("smtp", "", "the bridge's SMTP server")
	from := flag.String("from", "poststelle@1234.schulen.hessen.test", "school mailbox")
	to := flag.String("to", "raum-schulamt-kassel@schulbruecke.hessen.test", "the room's address")
	mailpit := flag.String("mailpit", "", "the mail catcher's API URL")
	rate := flag.Int("rate", 20, "messages per second in each direction")
	duration := flag.Duration("duration", 60*time.Second, "how long to send")
	flag.Parse()
	ctx := context.Background()
	cli, err := mautrix.NewClient(*url, "", "")
	check(err)
	_, err = cli.Login(ctx, &mautrix.ReqLogin{Type: mautrix.AuthTypePassword, Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: *user}, Password: *password, StoreCredentials: true})
	check(err)
	rid := id.RoomID(*room)
	_, _ = cli.JoinRoom(ctx, rid.String(), nil)

	var mu sync.Mutex
	seen := map[string]time.Time{}
	syncer := cli.Syncer.(*mautrix.DefaultSyncer)
	syncer.FilterJSON = &mautrix.Filter{Room: &mautrix.RoomFilter{Timeline: &mautrix.FilterPart{Limit: 500}}}
	syncer.OnEventType(event.EventMessage, func(_ context.Context, evt *event.Event) {
		body := evt.Content.AsMessage().Body
		if i := strings.Index(body, "latenz-"); i >= 0 {
			key := strings.Fields(body[i:])[0]
			mu.Lock()
			if _, ok := seen[key]; !ok {
				seen[key] = time.Now()
			}
			mu.Unlock()
		}
	})
	syncCtx, stop := context.WithCancel(ctx)
	go func() { _ = cli.SyncWithContext(syncCtx) }()
	time.Sleep(2 * time.Second)

	n := *rate * int(duration.Seconds())
	sentM := make([]time.Time, n)
	sentE := make([]time.Time, n)
	tick := time.NewTicker(time.Second / time.Duration(*rate))
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		<-tick.C
		wg.Add(2)
		go func() {
			defer wg.Done()
			sentM[i] = time.Now()
			_, err := cli.SendText(ctx, rid, fmt.Sprintf("latenz-m%d Nachricht", i))
			check(err)
		}()
		go func() {
			defer wg.Done()
			msg := fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: Latenz\r\nMessage-ID: <latenz-e%d-%d@bench>\r\n\r\nlatenz-e%d Antwort\r\n", *from, *to, i, time.Now().UnixNano(), i)
			sentE[i] = time.Now()
			// Signed as the demo school requires (DKIM verification is
			// part of what is measured).
			msg, err := dkimtest.SignIfDemo(*from, msg)
			check(err)
			c, err := smtp.Dial(*smtpAddr)
			check(err)
			check(c.SendMail(*from, []string{*to}, strings.NewReader(msg)))
			_ = c.Close()
		}()
	}
	tick.Stop()
	wg.Wait()
	time.Sleep(10 * time.Second)
	stop()

	// Mailpit's receive times of the mails.
	resp, err := http.Get(fmt.Sprintf("%s/api/v1/messages?limit=%d", *mailpit, 2*n+100))
	check(err)
	var list struct {
		Messages []struct {
			Subject string    `json:"Subject"`
			Created time.Time `json:"Created"`
		} `json:"messages"`
	}
	check(json.NewDecoder(resp.Body).Decode(&list))
	resp.Body.Close()
	mailed := map[string]time.Time{}
	for _, m := range list.Messages {
		if i := strings.Index(m.Subject, "latenz-"); i >= 0 {
			mailed[strings.Fields(m.Subject[i:])[0]] = m.Created
		}
	}
	var echo, m2m, e2m []time.Duration
	mu.Lock()
	for i := 0; i < n; i++ {
		if t, ok := seen[fmt.Sprintf("latenz-m%d", i)]; ok {
			echo = append(echo, t.Sub(sentM[i]))
		}
		if t, ok := mailed[fmt.Sprintf("latenz-m%d", i)]; ok {
			m2m = append(m2m, t.Sub(sentM[i]))
		}
		if t, ok := seen[fmt.Sprintf("latenz-e%d", i)]; ok {
			e2m = append(e2m, t.Sub(sentE[i]))
		}
	}
	mu.Unlock()
	out := map[string]any{"n": n, "rate": *rate,
		"echo_count": len(echo), "echo_p50_ms": pct(echo, 50), "echo_p99_ms": pct(echo, 99),
		"matrix_to_mail_count": len(m2m), "matrix_to_mail_p50_ms": pct(m2m, 50), "matrix_to_mail_p99_ms": pct(m2m, 99),
		"mail_to_event_count": len(e2m), "mail_to_event_p50_ms": pct(e2m, 50), "mail_to_event_p99_ms": pct(e2m, 99)}
	check(json.NewEncoder(os.Stdout).Encode(out))
}

func pct(d []time.Duration, p int) float64 {
	if len(d) == 0 {
		return -1
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	i := (len(d) - 1) * p / 100
	return float64(d[i].Microseconds()) / 1000
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "latency:", err)
		os.Exit(1)
	}
}
