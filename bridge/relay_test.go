package bridge

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/landesmessenger/landesmessenger/internal/mailpittest"
)

// TestRelayToMailpit sends a room's message with an attachment through the
// relay to a real SMTP server and reads what arrived through its API.
func TestRelayToMailpit(t *testing.T) {
	mp := mailpittest.Start(t)
	ctx := context.Background()
	o := &Outgoing{
		RoomName: "Schulamt Kassel", RoomAddress: "raum-schulamt-kassel@schulbruecke.test",
		SenderName: "Max Mustermann (HKM)", To: []string{"poststelle@1234.schulen.test", "a.beispiel@1234.schulen.test"},
		Subject: "Schulamt Kassel: Zeugnisse", Text: "Bitte bis Freitag.", HTML: "<p>Bitte bis <b>Freitag</b>.</p>",
		MessageID: MessageIDFor("$ev1", "schulbruecke.test"), InReplyTo: "<vorher@1234.schulen.test>",
		Attachments: []Attachment{{Name: "liste.csv", MIMEType: "text/csv", Data: []byte("a;b\n1;2\n")}},
	}
	raw, err := o.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	r := &Relay{Addr: mp.SMTPAddr, HelloName: "schulbruecke.test", Attempts: 3, RetryAfter: 100 * time.Millisecond}
	if err := r.Send(ctx, o.RoomAddress, o.To, raw); err != nil {
		t.Fatalf("send: %v", err)
	}
	msgs, err := mp.Messages(ctx, 10)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("Mailpit holds %d mails (%v), want 1", len(msgs), err)
	}
	m := msgs[0]
	if m.From.Address != o.RoomAddress || m.From.Name != "Max Mustermann (HKM) via Schulamt Kassel" || m.Subject != o.Subject ||
		"<"+m.MessageID+">" != o.MessageID || m.Attachments != 1 || len(m.To) != 2 {
		t.Errorf("arrived: %+v", m)
	}
	got, err := mp.Raw(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	in, err := ParseIncoming(bytes.NewReader(got), Limits{MaxAttachment: 1 << 20, MaxParts: 10})
	if err != nil {
		t.Fatal(err)
	}
	if in.InReplyTo != o.InReplyTo || in.Text != o.Text || len(in.Attachments) != 1 || string(in.Attachments[0].Data) != "a;b\n1;2\n" {
		t.Errorf("source as arrived: %+v", in)
	}
	if strings.Contains(string(got), "@mmustermann") {
		t.Error("the mail shows a Matrix ID")
	}
}
