package bridge

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestOutgoingRoundTrip(t *testing.T) {
	for _, withFile := range []bool{false, true} {
		o := &Outgoing{
			RoomName: "Schulamt Kassel", RoomAddress: "raum-schulamt-kassel@schulbruecke.test",
			SenderName: "Max Mustermann (HKM)", To: []string{"poststelle@1234.schulen.test"},
			Subject: "Schulamt Kassel: Zeugnisse für Übergänge", Text: "Bitte bis Freitag – danke.", HTML: "<p>Bitte bis <b>Freitag</b> – danke.</p>",
			MessageID: MessageIDFor("$abc", "schulbruecke.test"), InReplyTo: "<earlier@x>", References: []string{"<root@x>", "<earlier@x>"},
			Date: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC),
		}
		if withFile {
			o.Attachments = []Attachment{{Name: "Liste März.pdf", MIMEType: "application/pdf", Data: bytes.Repeat([]byte{0, 1, 2, 250}, 100)}}
		}
		raw, err := o.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		in, err := ParseIncoming(bytes.NewReader(raw), Limits{MaxAttachment: 1 << 20, MaxParts: 20})
		if err != nil {
			t.Fatalf("parse own mail: %v\n%s", err, raw)
		}
		if in.From != o.RoomAddress || in.FromName != "Max Mustermann (HKM) via Schulamt Kassel" || in.Subject != o.Subject ||
			in.Text != o.Text || in.HTML != o.HTML || in.MessageID != o.MessageID || in.InReplyTo != "<earlier@x>" || len(in.References) != 2 {
			t.Errorf("round trip (file %t): got %+v", withFile, in)
		}
		if withFile && (len(in.Attachments) != 1 || in.Attachments[0].Name != "Liste März.pdf" || !bytes.Equal(in.Attachments[0].Data, o.Attachments[0].Data)) {
			t.Errorf("attachment: got %+v", in.Attachments)
		}
		if strings.Contains(string(raw), "@max") || strings.Contains(string(raw), ":land") {
			t.Errorf("mail shows a Matrix ID:\n%s", raw)
		}
	}
	if a1, a2 := MessageIDFor("$a", "d"), MessageIDFor("$a", "d"); a1 != a2 || a1 == MessageIDFor("$b", "d") {
		t.Error("MessageIDFor is not a function of the event")
	}
}

// TestAutoSubmittedOnlyForNotices is issue 14, finding 19: a person's
// message leaves as an ordinary mail; only the bridge's own notices are
// marked auto-generated (RFC 3834).
func TestAutoSubmittedOnlyForNotices(t *testing.T) {
	for _, notice := range []bool{false, true} {
		o := &Outgoing{RoomName: "Schulamt Kassel", RoomAddress: "raum@schulbruecke.test", SenderName: "Max Mustermann",
			To: []string{"poststelle@1234.schulen.test"}, Subject: "Zeugnisse", Text: "Bitte bis Freitag.",
			MessageID: MessageIDFor("$abc", "schulbruecke.test"), Notice: notice}
		raw, err := o.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(string(raw), "Auto-Submitted: auto-generated"); got != notice {
			t.Errorf("notice %t: Auto-Submitted header present %t, want %t\n%s", notice, got, notice, raw)
		}
	}
}

func TestParseIncomingErrors(t *testing.T) {
	lim := Limits{MaxAttachment: 100, MaxParts: 5}
	for name, tc := range map[string]struct {
		mail string
		want error
	}{
		"no headers":         {"garbage", ErrMalformed},
		"bad from":           {"From: nobody\r\nMessage-ID: <a@b>\r\n\r\nx", ErrMalformed},
		"no message id":      {"From: a@b.c\r\n\r\nx", ErrMalformed},
		"bad content type":   {"From: a@b.c\r\nMessage-ID: <a@b>\r\nContent-Type: multipart/mixed; boundary\r\n\r\nx", ErrMalformed},
		"unknown encoding":   {"From: a@b.c\r\nMessage-ID: <a@b>\r\nContent-Transfer-Encoding: x-uue\r\n\r\nx", ErrMalformed},
		"invalid utf-8":      {"From: a@b.c\r\nMessage-ID: <a@b>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\xff\xfe", ErrMalformed},
		"unknown charset":    {"From: a@b.c\r\nMessage-ID: <a@b>\r\nContent-Type: text/plain; charset=koi8-r\r\n\r\nx", ErrMalformed},
		"attachment too big": {"From: a@b.c\r\nMessage-ID: <a@b>\r\nContent-Type: application/pdf\r\n\r\n" + strings.Repeat("x", 200), ErrTooLarge},
	} {
		if _, err := ParseIncoming(strings.NewReader(tc.mail), lim); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", name, err, tc.want)
		}
	}
	latin := "From: =?iso-8859-1?q?J=FCrgen?= <j@b.c>\r\nMessage-ID: <a@b>\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nGr\xfc\xdfe"
	in, err := ParseIncoming(strings.NewReader(latin), lim)
	if err != nil || in.Text != "Grüße" || in.FromName != "Jürgen" {
		t.Errorf("latin-1: %+v, %v", in, err)
	}
	htmlOnly := "From: a@b.c\r\nMessage-ID: <a@b>\r\nContent-Type: text/html\r\n\r\n<p>Hallo<br>Welt</p><script>x()</script>"
	if in, err := ParseIncoming(strings.NewReader(htmlOnly), lim); err != nil || in.Text != "Hallo\nWelt" {
		t.Errorf("html only: %+v, %v", in, err)
	}
}

func TestStripQuotes(t *testing.T) {
	for in, want := range map[string]string{
		"Danke, erledigt.\n\nAm 27.11.2026 um 10:00 schrieb Schulamt Kassel:\n> Bitte bis Freitag": "Danke, erledigt.",
		"Yes.\r\n\r\nOn Fri, Nov 27, 2026 at 10:00 Schulamt wrote:\r\n> x":                         "Yes.",
		"Gern.\n-- \nMusterschule Kassel\nTel. 0561":                                               "Gern.",
		"> alt\nneu": "neu",
		"Text\n-----Ursprüngliche Nachricht-----\nVon: x": "Text",
	} {
		if got := StripQuotes(in); got != want {
			t.Errorf("StripQuotes(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseIncoming(f *testing.F) {
	f.Add([]byte("From: a@b.c\r\nMessage-ID: <a@b>\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n--x--\r\n"))
	f.Add([]byte("From: a@b.c\r\nMessage-ID: <a@b>\r\n\r\nplain"))
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := ParseIncoming(bytes.NewReader(data), Limits{MaxAttachment: 1 << 16, MaxParts: 50})
		if err == nil && in == nil {
			t.Fatal("no error and no mail")
		}
		if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("error %v wraps neither ErrMalformed nor ErrTooLarge", err)
		}
		if in != nil {
			_ = StripQuotes(in.Text)
		}
	})
}
