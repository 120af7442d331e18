package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/bridge"
	"github.com/landesmessenger/landesmessenger/internal/dkimtest"
	"github.com/landesmessenger/landesmessenger/internal/mailpittest"
	"github.com/landesmessenger/landesmessenger/stack"
)

// TestSchoolBridge runs the school bridge in serve on both kinds with
// Mailpit as the schools' mail server: a member of the Schulamt writes in
// the bridged room and the schools' mailboxes get a threaded mail from the
// room's address in her name; a school answers by mail and the answer
// appears as the school's user, threaded, without the quoted history;
// attachments both ways; an unknown sender and a malformed mail are
// refused with the reason.
func TestSchoolBridge(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test with real homeservers; run without -short")
	}
	t.Parallel()
	bin := buildBinary(t)
	for _, kind := range provKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			mp := mailpittest.Start(t)
			smtpAddr, asAddr := freeLoopback(t), freeLoopback(t)
			s := upStackWith(t, bin, kind, []string{"LM_BRIDGE_SMTP=" + smtpAddr, "LM_BRIDGE_APPSERVICE=" + asAddr, "LM_BRIDGE_RELAY=" + mp.SMTPAddr}, "--homeserver", kind)
			s.firstApply(t)
			bridgeSteps(t, s, mp, smtpAddr)
		})
	}
}

func freeLoopback(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

var roomIDRE = regexp.MustCompile(`room_id="?(![^" ]+)"?`)

func bridgeSteps(t *testing.T, s *provStack, mp *stack.Mailpit, smtpAddr string) {
	ctx := context.Background()
	serve := s.serveRun(t)
	at := serve.logs.waitFor(0, 3*time.Minute, "bridged room ready", "schulamt-kassel")
	if at < 0 {
		t.Fatalf("no bridged room:\n%s", provLastLines(serve.logs.String(), 40))
	}
	m := roomIDRE.FindStringSubmatch(strings.Split(serve.logs.String(), "\n")[at])
	if m == nil {
		t.Fatalf("no room ID in %q", strings.Split(serve.logs.String(), "\n")[at])
	}
	room := id.RoomID(m[1])
	// The SMTP server opens once every bridged room is ready.
	if serve.logs.waitFor(at, 3*time.Minute, "school bridge running") < 0 {
		t.Fatalf("bridge not running:\n%s", provLastLines(serve.logs.String(), 40))
	}
	schule := s.server(t, "schule")
	cs := s.user(t, "cschulz", "schule")
	cli := s.mustLogin(t, "schule", cs)
	joinBridged(t, cli, room)
	var err error
	const address = "raum-schulamt-kassel@schulbruecke.hessen.test"

	// Matrix -> mail.
	sent, err := cli.SendText(ctx, room, "Bitte die Zeugnislisten bis Freitag schicken.")
	if err != nil {
		t.Fatal(err)
	}
	msg := waitMail(t, mp, func(mm stack.MailpitMessage) bool { return strings.Contains(mm.Subject, "Zeugnislisten") })
	if msg.From.Address != address || !strings.Contains(msg.From.Name, "Christina Schulz") || strings.Contains(msg.From.Name, "@") || len(msg.To) != 3 {
		t.Errorf("mail: from %q <%s>, %d recipients; want the room's address in Christina Schulz's name to 3 mailboxes", msg.From.Name, msg.From.Address, len(msg.To))
	}
	raw, err := mp.Raw(ctx, msg.ID)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(cs.String())) {
		t.Error("the mail shows the Matrix ID of the sender")
	}
	messageID := "<" + msg.MessageID + ">"

	// Mail -> Matrix: the school's answer, threaded, without the quote.
	reply := "From: Musterschule Kassel <poststelle@1234.schulen.hessen.test>\r\nTo: " + address + "\r\nSubject: Re: Zeugnislisten\r\n" +
		"Message-ID: <antwort-1@1234.schulen.hessen.test>\r\nIn-Reply-To: " + messageID + "\r\nReferences: " + messageID + "\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n\r\nListen kommen am Donnerstag.\r\n\r\nAm 27.11.2026 schrieb Schulamt Kassel:\r\n> Bitte die Zeugnislisten bis Freitag schicken.\r\n"
	if err := smtpSend(smtpAddr, "poststelle@1234.schulen.hessen.test", address, reply); err != nil {
		t.Fatalf("the school's answer: %v", err)
	}
	ghost := id.NewUserID(bridge.GhostPrefix+"1234", schule.ServerName)
	got := waitRoomMessage(t, cli, room, func(e *event.Event) bool {
		return e.Sender == ghost && strings.Contains(e.Content.AsMessage().Body, "Listen kommen am Donnerstag")
	})
	body := got.Content.AsMessage().Body
	if strings.Contains(body, "> Bitte") {
		t.Errorf("answer with the quoted history: %q", body)
	}
	if rel := got.Content.AsMessage().RelatesTo; rel == nil || (rel.GetThreadParent() != sent.EventID && rel.GetReplyTo() != sent.EventID) {
		t.Errorf("answer not threaded onto %s: %+v", sent.EventID, rel)
	}
	// The same mail again (a retry of the school's server) is not posted twice.
	if err := smtpSend(smtpAddr, "poststelle@1234.schulen.hessen.test", address, reply); err != nil {
		t.Fatalf("the same answer again: %v", err)
	}

	// Refusals.
	stranger := strings.Replace(reply, "poststelle@1234.schulen.hessen.test", "fremd@example.test", 1)
	if err := smtpSend(smtpAddr, "fremd@example.test", address, stranger); smtpCode(err) != 550 || !strings.Contains(err.Error(), "not a mailbox of this room") {
		t.Errorf("unknown sender: got %v, want 550", err)
	}
	if err := smtpSend(smtpAddr, "poststelle@1234.schulen.hessen.test", address, "From: poststelle@1234.schulen.hessen.test\r\nSubject: kaputt\r\n\r\nohne Message-ID"); smtpCode(err) != 554 || !strings.Contains(err.Error(), "Message-ID") {
		t.Errorf("malformed mail: got %v, want 554 naming the Message-ID", err)
	}
	// Issue 14, finding 3: school 1234 requires DKIM. A signed mail whose
	// body was changed on the way, and an unsigned one claiming to be the
	// school, are refused with 550; neither reaches the room (checked
	// below, once the next mail is in the room).
	forged := dkimMailFor(t, "poststelle@1234.schulen.hessen.test", address, "<gefaelscht-1@1234.schulen.hessen.test>", "Bitte die Zugangsdaten schicken.")
	forged = strings.Replace(forged, "Bitte die Zugangsdaten schicken.", "Bitte die Passwörter schicken!!", 1)
	if err := smtpSendRaw(smtpAddr, "poststelle@1234.schulen.hessen.test", address, forged); smtpCode(err) != 550 || !strings.Contains(err.Error(), "body hash") {
		t.Errorf("signed mail with a changed body: got %v, want 550 (body hash)", err)
	}
	unsigned := "From: poststelle@1234.schulen.hessen.test\r\nTo: " + address + "\r\nSubject: Dringend\r\nMessage-ID: <gefaelscht-2@1234.schulen.hessen.test>\r\n\r\nBitte die Passwörter schicken!!\r\n"
	if err := smtpSendRaw(smtpAddr, "poststelle@1234.schulen.hessen.test", address, unsigned); smtpCode(err) != 550 || !strings.Contains(err.Error(), "no DKIM signature") {
		t.Errorf("unsigned mail claiming to be school 1234: got %v, want 550", err)
	}

	// Attachments both ways.
	up, err := cli.UploadBytes(ctx, []byte("Klasse;Anzahl\n5a;27\n"), "text/csv")
	if err != nil {
		t.Fatal(err)
	}
	_, err = cli.SendMessageEvent(ctx, room, event.EventMessage, &event.MessageEventContent{
		MsgType: event.MsgFile, Body: "klassen.csv", FileName: "klassen.csv", URL: up.ContentURI.CUString(), Info: &event.FileInfo{MimeType: "text/csv", Size: 20},
	})
	if err != nil {
		t.Fatal(err)
	}
	withFile := waitMail(t, mp, func(mm stack.MailpitMessage) bool { return mm.Attachments == 1 })
	if withFile.From.Address != address {
		t.Errorf("mail with the file from %s", withFile.From.Address)
	}
	withAttachment := "From: poststelle@5678.schulen.hessen.test\r\nTo: " + address + "\r\nSubject: Unterlagen\r\nMessage-ID: <anlage-1@5678.schulen.hessen.test>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAnbei die Liste.\r\n" +
		"--b1\r\nContent-Type: text/csv; name=liste.csv\r\nContent-Disposition: attachment; filename=liste.csv\r\nContent-Transfer-Encoding: base64\r\n\r\nYTtiCjE7Mgo=\r\n--b1--\r\n"
	if err := smtpSend(smtpAddr, "poststelle@5678.schulen.hessen.test", address, withAttachment); err != nil {
		t.Fatalf("mail with an attachment: %v", err)
	}
	school2 := id.NewUserID(bridge.GhostPrefix+"5678", schule.ServerName)
	file := waitRoomMessage(t, cli, room, func(e *event.Event) bool {
		return e.Sender == school2 && e.Content.AsMessage().MsgType == event.MsgFile
	})
	mxc, _ := file.Content.AsMessage().URL.Parse()
	data, err := cli.DownloadBytes(ctx, mxc)
	if err != nil || string(data) != "a;b\n1;2\n" {
		t.Errorf("attachment in the room: %q, %v", data, err)
	}
	// The answer was posted once.
	if n := countRoomMessages(t, cli, room, func(e *event.Event) bool {
		return e.Sender == ghost && strings.Contains(e.Content.AsMessage().Body, "Listen kommen am Donnerstag")
	}); n != 1 {
		t.Errorf("the answer sent twice is in the room %d times, want once", n)
	}
	// The forged mails refused above (finding 3) are not in the room: the
	// attachment mail sent after them is.
	if n := countRoomMessages(t, cli, room, func(e *event.Event) bool {
		return strings.Contains(e.Content.AsMessage().Body, "Passwörter")
	}); n != 0 {
		t.Errorf("%d refused (forged) mails are in the room", n)
	}

	twoRooms(t, serve, cli, smtpAddr, room, ghost, school2)

	n := 500
	if v, err := strconv.Atoi(os.Getenv("LM_BRIDGE_STREAM")); err == nil && v > 0 {
		n = v
	}
	t.Run("restart during a stream", func(t *testing.T) { bridgeRestartSteps(t, s, mp, smtpAddr, serve, cli, room, n) })
}

// smtpSend sends msg to the bridge, signed with the demo key when it is
// from the demo school 1234 (which requires DKIM in config/schulen.yaml).
func smtpSend(addr, from, to, msg string) error {
	msg, err := dkimtest.SignIfDemo(from, msg)
	if err != nil {
		return err
	}
	return smtpSendRaw(addr, from, to, msg)
}

// twoRooms is issue 14, finding 5: one mail to the addresses of two
// bridged rooms appears in both, and a Message-ID that another school
// reuses does not suppress that school's mail.
func twoRooms(t *testing.T, serve *serveProc, cli *mautrix.Client, smtpAddr string, room id.RoomID, ghost, school2 id.UserID) {
	t.Helper()
	at := serve.logs.waitFor(0, time.Minute, "bridged room ready", "schulleitung-1234")
	m := roomIDRE.FindStringSubmatch(strings.Split(serve.logs.String(), "\n")[max(at, 0)])
	if at < 0 || m == nil {
		t.Fatalf("no second bridged room:\n%s", provLastLines(serve.logs.String(), 40))
	}
	room2 := id.RoomID(m[1])
	joinBridged(t, cli, room2)
	const a1, a2 = "raum-schulamt-kassel@schulbruecke.hessen.test", "raum-schulleitung-1234@schulbruecke.hessen.test"
	const from = "poststelle@1234.schulen.hessen.test"
	msg, err := dkimtest.Sign("From: " + from + "\r\nTo: " + a1 + ", " + a2 + "\r\nSubject: Zwei Räume\r\n" +
		"Message-ID: <zwei-raeume@1234.schulen.hessen.test>\r\n\r\nAn beide Räume.\r\n")
	if err != nil {
		t.Fatal(err)
	}
	c, err := smtp.Dial(smtpAddr)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail(from, []string{a1, a2}, strings.NewReader(msg)); err != nil {
		t.Fatalf("one mail to two rooms: %v", err)
	}
	c.Close()
	for _, r := range []id.RoomID{room, room2} {
		waitRoomMessage(t, cli, r, func(e *event.Event) bool {
			return e.Sender == ghost && strings.Contains(e.Content.AsMessage().Body, "An beide Räume.")
		})
	}
	// School 5678 happens to use the same Message-ID: its mail is its own.
	reused := "From: poststelle@5678.schulen.hessen.test\r\nTo: " + a1 + "\r\nSubject: Gleiche ID\r\n" +
		"Message-ID: <zwei-raeume@1234.schulen.hessen.test>\r\n\r\nGleiche Message-ID, andere Schule.\r\n"
	if err := smtpSend(smtpAddr, "poststelle@5678.schulen.hessen.test", a1, reused); err != nil {
		t.Fatalf("mail of another school with a reused Message-ID: %v", err)
	}
	waitRoomMessage(t, cli, room, func(e *event.Event) bool {
		return e.Sender == school2 && strings.Contains(e.Content.AsMessage().Body, "andere Schule")
	})
}

// joinBridged joins cli to a bridged room once its invitation is there.
func joinBridged(t *testing.T, cli *mautrix.Client, room id.RoomID) {
	t.Helper()
	var err error
	for i := 0; i < 50; i++ {
		if _, err = cli.JoinRoom(context.Background(), room.String(), nil); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s joins the bridged room %s: %v", cli.UserID, room, err)
}

// smtpSendRaw sends msg as it is, unsigned.
func smtpSendRaw(addr, from, to, msg string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.SendMail(from, []string{to}, strings.NewReader(msg))
}

// dkimMailFor is a plain mail from from to to, signed with the demo key.
func dkimMailFor(t *testing.T, from, to, messageID, body string) string {
	t.Helper()
	msg, err := dkimtest.Sign("From: " + from + "\r\nTo: " + to + "\r\nSubject: Dringend\r\nMessage-ID: " + messageID + "\r\n\r\n" + body + "\r\n")
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func smtpCode(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

func waitMail(t *testing.T, mp *stack.Mailpit, match func(stack.MailpitMessage) bool) stack.MailpitMessage {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		msgs, err := mp.Messages(context.Background(), 100)
		if err == nil {
			for _, m := range msgs {
				if match(m) {
					return m
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no such mail at Mailpit within 60 s")
	return stack.MailpitMessage{}
}

func roomMessages(t *testing.T, cli *mautrix.Client, room id.RoomID) []*event.Event {
	t.Helper()
	resp, err := cli.Messages(context.Background(), room, "", "", mautrix.DirectionBackward, nil, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range resp.Chunk {
		_ = e.Content.ParseRaw(e.Type)
	}
	return resp.Chunk
}

func waitRoomMessage(t *testing.T, cli *mautrix.Client, room id.RoomID, match func(*event.Event) bool) *event.Event {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		for _, e := range roomMessages(t, cli, room) {
			if e.Type == event.EventMessage && match(e) {
				return e
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("no such message in %s within 60 s", room)
	return nil
}

func countRoomMessages(t *testing.T, cli *mautrix.Client, room id.RoomID, match func(*event.Event) bool) int {
	n := 0
	for _, e := range roomMessages(t, cli, room) {
		if e.Type == event.EventMessage && match(e) {
			n++
		}
	}
	return n
}

// bridgeRestartSteps streams n messages each way while serve (and so the
// bridge) is restarted in the middle: every Matrix message reaches Mailpit
// exactly once and every accepted mail is in the room exactly once. The
// mail side retries like a mail server does while the bridge is down.
func bridgeRestartSteps(t *testing.T, s *provStack, mp *stack.Mailpit, smtpAddr string, serve *serveProc, cli *mautrix.Client, room id.RoomID, n int) {
	ctx := context.Background()
	const address = "raum-schulamt-kassel@schulbruecke.hessen.test"
	fromMatrix := make(chan error, 1)
	fromMail := make(chan error, 1)
	halfway := make(chan struct{})
	go func() {
		for i := 0; i < n; i++ {
			if i == n/3 {
				close(halfway)
			}
			if _, err := cli.SendText(ctx, room, fmt.Sprintf("Strom %d aus Matrix", i)); err != nil {
				fromMatrix <- err
				return
			}
		}
		fromMatrix <- nil
	}()
	go func() {
		for i := 0; i < n; i++ {
			msg := fmt.Sprintf("From: poststelle@1234.schulen.hessen.test\r\nTo: %s\r\nSubject: Strom\r\nMessage-ID: <strom-%d@1234.schulen.hessen.test>\r\n\r\nStrom %d aus E-Mail\r\n", address, i, i)
			deadline := time.Now().Add(3 * time.Minute)
			for {
				err := smtpSend(smtpAddr, "poststelle@1234.schulen.hessen.test", address, msg)
				if err == nil {
					break
				}
				if code := smtpCode(err); code >= 500 || time.Now().After(deadline) {
					fromMail <- fmt.Errorf("mail %d: %w", i, err)
					return
				}
				time.Sleep(200 * time.Millisecond) // a mail server retries later
			}
		}
		fromMail <- nil
	}()
	<-halfway
	serve.stop(t)
	time.Sleep(time.Second)
	restarted := s.serveRun(t)
	if restarted.logs.waitFor(0, 3*time.Minute, "school bridge running") < 0 {
		t.Fatalf("bridge did not come back:\n%s", provLastLines(restarted.logs.String(), 40))
	}
	for _, ch := range []chan error{fromMatrix, fromMail} {
		if err := <-ch; err != nil {
			t.Fatalf("stream: %v", err)
		}
	}
	// Matrix -> mail: each message mailed once.
	re := regexp.MustCompile(`Strom (\d+) aus Matrix`)
	deadline := time.Now().Add(3 * time.Minute)
	var counts map[string]int
	for {
		counts = map[string]int{}
		msgs, err := mp.Messages(ctx, 5*n)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if sm := re.FindStringSubmatch(m.Subject); sm != nil {
				counts[sm[1]]++
			}
		}
		if len(counts) >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	dups := 0
	for _, c := range counts {
		if c > 1 {
			dups++
		}
	}
	if len(counts) != n || dups != 0 {
		t.Errorf("Matrix -> mail across the restart: %d of %d messages mailed, %d mailed more than once", len(counts), n, dups)
	}
	// Mail -> Matrix: each accepted mail posted once.
	ghost := id.NewUserID(bridge.GhostPrefix+"1234", s.server(t, "schule").ServerName)
	reMail := regexp.MustCompile(`Strom (\d+) aus E-Mail`)
	deadline = time.Now().Add(3 * time.Minute)
	var posted map[string]int
	for {
		posted = map[string]int{}
		from := ""
		for {
			resp, err := cli.Messages(ctx, room, from, "", mautrix.DirectionBackward, nil, 50)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range resp.Chunk {
				if e.Type == event.EventMessage && e.Sender == ghost {
					_ = e.Content.ParseRaw(e.Type)
					if sm := reMail.FindStringSubmatch(e.Content.AsMessage().Body); sm != nil {
						posted[sm[1]]++
					}
				}
			}
			if resp.End == "" || len(resp.Chunk) == 0 {
				break
			}
			from = resp.End
		}
		if len(posted) >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	// Dendrite's /messages skips events of a busy room (its pagination
	// is not exact), so presence is checked event by event: the bridge's
	// message table names the event of each mail, which must be in the
	// room as the school's message. Duplicates show in any page.
	if len(posted) < n {
		raw, err := sql.Open("sqlite", filepath.Join(s.dir, "bridge.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		for i := 0; i < n; i++ {
			if posted[strconv.Itoa(i)] > 0 {
				continue
			}
			var mxid string
			if err := raw.QueryRowContext(ctx, `SELECT mxid FROM message WHERE id = $1`, string(bridge.IncomingID("schulamt-kassel", "poststelle@1234.schulen.hessen.test", fmt.Sprintf("<strom-%d@1234.schulen.hessen.test>", i)))).Scan(&mxid); err != nil {
				continue
			}
			e, err := cli.GetEvent(ctx, room, id.EventID(mxid))
			if err != nil || e.Sender != ghost {
				continue
			}
			_ = e.Content.ParseRaw(e.Type)
			if reMail.MatchString(e.Content.AsMessage().Body) {
				posted[strconv.Itoa(i)] = 1
			}
		}
	}
	dups = 0
	for _, c := range posted {
		if c > 1 {
			dups++
		}
	}
	if len(posted) != n || dups != 0 {
		var missing []int
		for i := 0; i < n && len(missing) < 10; i++ {
			if posted[strconv.Itoa(i)] == 0 {
				missing = append(missing, i)
			}
		}
		t.Errorf("mail -> Matrix across the restart: %d of %d mails posted (missing e.g. %v), %d posted more than once", len(posted), n, missing, dups)
	}
}
