package bridge

import (
	"bytes"
	"errors"
	"io"
	"mime/quotedprintable"
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
		"unknown charset":    {"From: a@b.c\r\nMessage-ID: <a@b>\r\nContent-Type: text/plain; charset=x-unbekannt-42\r\n\r\nx", ErrMalformed},
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

// TestFinding7CharsetsAndHTML is issue 14, finding 7: „Grüße“ – € arrive
// intact in windows-1252 and ISO-8859-15 (bodies and RFC 2047 subjects),
// an attachment named in RFC 2047 keeps its name, and HTML from Matrix
// leaves as mail without remote images, scripts or styles.
func TestFinding7CharsetsAndHTML(t *testing.T) {
	lim := Limits{MaxAttachment: 1 << 20, MaxParts: 10}
	const want = "„Grüße“ – €"
	for _, tc := range []struct{ charset, body string }{
		// windows-1252: „ 0x84, ü 0xFC, ß 0xDF, “ 0x93, – 0x96, € 0x80.
		{"windows-1252", "\x84Gr\xfc\xdfe\x93 \x96 \x80"},
		// ISO-8859-15 has no curly quotes or dash: € is 0xA4.
		{"ISO-8859-15", "Gr\xfc\xdfe \xa4"},
	} {
		mail := "From: a@b.c\r\nMessage-ID: <a@b>\r\nSubject: =?" + tc.charset + "?Q?Gr=FC=DFe?=\r\nContent-Type: text/plain; charset=" + tc.charset + "\r\n\r\n" + tc.body
		in, err := ParseIncoming(strings.NewReader(mail), lim)
		wantText := want
		if tc.charset == "ISO-8859-15" {
			wantText = "Grüße €"
		}
		if err != nil || in.Text != wantText || in.Subject != "Grüße" {
			t.Errorf("%s: text %q, subject %q, %v; want %q, Grüße", tc.charset, in.Text, in.Subject, err, wantText)
		}
	}
	attached := "From: a@b.c\r\nMessage-ID: <a@b>\r\nContent-Type: multipart/mixed; boundary=X\r\n\r\n--X\r\nContent-Type: text/plain\r\n\r\nAnbei.\r\n--X\r\n" +
		"Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"=?ISO-8859-1?Q?Zeugnis=FCbersicht_M=E4rz.pdf?=\"\r\n\r\n%PDF\r\n--X--\r\n"
	in, err := ParseIncoming(strings.NewReader(attached), lim)
	if err != nil || len(in.Attachments) != 1 || in.Attachments[0].Name != "Zeugnisübersicht März.pdf" {
		t.Errorf("RFC 2047 file name: %+v, %v", in, err)
	}

	o := &Outgoing{RoomName: "R", RoomAddress: "raum-r@s.test", SenderName: "A", To: []string{"x@y.z"}, MessageID: "<m@s.test>", Date: time.Unix(0, 0),
		Text: "Hallo", HTML: `<p>Hallo <b>Schule</b> <a href="https://hessen.de">Link</a></p><img src="http://tracker.example/p.gif"><script>alert(1)</script><style>p{color:red}</style><p style="background:url(http://x/y)">z</p>`}
	raw, err := o.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	decoded := string(raw)
	if qp, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(decoded))); err == nil {
		decoded = string(qp)
	}
	for _, bad := range []string{"<img", "tracker.example", "<script", "alert(1)", "<style", "color:red", "style=", "url(http://x/y)"} {
		if strings.Contains(decoded, bad) {
			t.Errorf("outgoing mail contains %q", bad)
		}
	}
	for _, good := range []string{"<b>Schule</b>", `href="https://hessen.de"`} {
		if !strings.Contains(decoded, good) {
			t.Errorf("outgoing mail lost %q", good)
		}
	}
}
