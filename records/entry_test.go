package records_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/landesmessenger/landesmessenger/records"
	"github.com/landesmessenger/landesmessenger/records/recordstest"
)

func TestParseCaseRef(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"HMdIS-Z-12/2026", true},
		{"Az. 3 K 117/26 (Ü)", true},
		{"", false},
		{" HMdIS-Z-12/2026", false},
		{"HMdIS-Z-12/2026 ", false},
		{"HMdIS\n12", false},
		{"HMdIS\t12", false},
		{"HMdIS\u202e21", false},
		{"HMdIS\u00a012", false},
		{"\xff\xfe", false},
		{strings.Repeat("A", records.MaxCaseRefLen), true},
		{strings.Repeat("A", records.MaxCaseRefLen+1), false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := records.ParseCaseRef(tc.in)
			if tc.ok && (err != nil || string(got) != tc.in) {
				t.Errorf("ParseCaseRef(%q): got %q, %v; want it accepted", tc.in, got, err)
			}
			if !tc.ok && !errors.Is(err, records.ErrInvalid) {
				t.Errorf("ParseCaseRef(%q): got %q, %v; want ErrInvalid", tc.in, got, err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	limits := records.Limits{MaxAttachmentSize: 10, MaxAttachments: 1}
	for _, tc := range []struct {
		name   string
		change func(e *records.Entry)
		want   string // substring of the error; "" for valid
	}{
		{"valid", func(*records.Entry) {}, ""},
		{"unmanaged room without key", func(e *records.Entry) { e.RoomKey = "" }, ""},
		{"bad case", func(e *records.Entry) { e.Case = "" }, "empty case reference"},
		{"room ID", func(e *records.Entry) { e.RoomID = "#alias:land.test" }, "room ID \"#alias:land.test\" does not start with !"},
		{"event ID", func(e *records.Entry) { e.EventID = "" }, "event ID is empty"},
		{"sender", func(e *records.Entry) { e.Sender = "mmustermann" }, "sender \"mmustermann\" is not a Matrix user ID"},
		{"filed by", func(e *records.Entry) { e.FiledBy = "" }, "filed by is empty"},
		{"sent at", func(e *records.Entry) { e.SentAt = time.Time{} }, "sent at is not set"},
		{"message type", func(e *records.Entry) { e.MsgType = "" }, "message type is empty"},
		{"body too long", func(e *records.Entry) { e.Body = strings.Repeat("x", 65537) }, "body is longer than 65536 bytes"},
		{"NUL in formatted body", func(e *records.Entry) { e.FormattedBody = "<b>\x00</b>" }, "formatted body contains a NUL"},
		{"invalid UTF-8 in the room name", func(e *records.Entry) { e.RoomName = "\xff" }, "room name is not valid UTF-8"},
		{"mark kind", func(e *records.Entry) { e.MarkKind = "pin" }, "mark kind \"pin\" is neither reaction nor reply"},
		{"mark event", func(e *records.Entry) { e.MarkEvent = "mark" }, "mark event \"mark\" does not start with $"},
		{"too many attachments", func(e *records.Entry) {
			e.Attachments = []records.Attachment{{Name: "a", MIMEType: "text/plain"}, {Name: "b", MIMEType: "text/plain"}}
		}, "2 attachments, at most 1 allowed"},
		{"attachment too large", func(e *records.Entry) {
			e.Attachments = []records.Attachment{{Name: "a", MIMEType: "text/plain", Data: make([]byte, 11)}}
		}, "attachment 1 (a) has 11 bytes, at most 10 allowed"},
		{"attachment without name", func(e *records.Entry) {
			e.Attachments = []records.Attachment{{MIMEType: "text/plain"}}
		}, "attachment 1 name is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := recordstest.Message(0, "HMdIS-Z-12/2026")
			tc.change(&e)
			err := e.Validate(limits)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("got %v, want valid", err)
			case tc.want != "" && (!errors.Is(err, records.ErrInvalid) || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("got %v, want ErrInvalid saying %q", err, tc.want)
			}
		})
	}
}

// TestComputeHashCoversEveryField changes each field in turn: each change
// changes the hash.
func TestComputeHashCoversEveryField(t *testing.T) {
	base := recordstest.Message(2, "HMdIS-Z-12/2026")
	base.FormattedBody = "<p>Vermerk</p>"
	base.Attachments[0].Size, base.Attachments[0].SHA256 = 20, strings.Repeat("a", 64)
	base.Seal(records.Head{Seq: 6, Hash: strings.Repeat("b", 64)})
	changes := map[string]func(e *records.Entry){
		"seq":                 func(e *records.Entry) { e.Seq++ },
		"filed at":            func(e *records.Entry) { e.FiledAt = e.FiledAt.Add(time.Millisecond) },
		"case":                func(e *records.Entry) { e.Case += "x" },
		"room key":            func(e *records.Entry) { e.RoomKey += "x" },
		"room ID":             func(e *records.Entry) { e.RoomID += "x" },
		"room name":           func(e *records.Entry) { e.RoomName += "x" },
		"event ID":            func(e *records.Entry) { e.EventID += "x" },
		"sender":              func(e *records.Entry) { e.Sender += "x" },
		"sender name":         func(e *records.Entry) { e.SenderName += "x" },
		"sent at":             func(e *records.Entry) { e.SentAt = e.SentAt.Add(time.Millisecond) },
		"message type":        func(e *records.Entry) { e.MsgType += "x" },
		"body":                func(e *records.Entry) { e.Body += "x" },
		"formatted body":      func(e *records.Entry) { e.FormattedBody += "x" },
		"filed by":            func(e *records.Entry) { e.FiledBy += "x" },
		"mark kind":           func(e *records.Entry) { e.MarkKind = records.MarkReply },
		"mark event":          func(e *records.Entry) { e.MarkEvent += "x" },
		"prev hash":           func(e *records.Entry) { e.PrevHash = records.Genesis },
		"attachment added":    func(e *records.Entry) { e.Attachments = append(e.Attachments, records.Attachment{}) },
		"attachment removed":  func(e *records.Entry) { e.Attachments = nil },
		"attachment name":     func(e *records.Entry) { e.Attachments[0].Name += "x" },
		"attachment MIME":     func(e *records.Entry) { e.Attachments[0].MIMEType += "x" },
		"attachment size":     func(e *records.Entry) { e.Attachments[0].Size++ },
		"attachment SHA-256":  func(e *records.Entry) { e.Attachments[0].SHA256 = strings.Repeat("c", 64) },
		"text moved to field": func(e *records.Entry) { e.Body, e.FormattedBody = e.Body+e.FormattedBody, "" },
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			e := base
			e.Attachments = append([]records.Attachment(nil), base.Attachments...)
			change(&e)
			if got := e.ComputeHash(); got == base.Hash {
				t.Errorf("hash unchanged: %s", got)
			}
		})
	}
	// Data is represented by SHA256 alone.
	e := base
	e.Attachments = []records.Attachment{base.Attachments[0]}
	e.Attachments[0].Data = []byte("other")
	if got := e.ComputeHash(); got != base.Hash {
		t.Errorf("hash depends on the attachment's data: got %s, want %s", got, base.Hash)
	}
}

func TestParseHead(t *testing.T) {
	h := records.Head{Seq: 42, Hash: strings.Repeat("0a", 32)}
	if got, err := records.ParseHead(h.String()); err != nil || got != h {
		t.Errorf("ParseHead(%q): got %v, %v; want %v", h.String(), got, err, h)
	}
	for _, bad := range []string{"", "42", "0:" + h.Hash, "x:" + h.Hash, "42:" + strings.ToUpper(h.Hash), "42:abc"} {
		if got, err := records.ParseHead(bad); !errors.Is(err, records.ErrInvalid) {
			t.Errorf("ParseHead(%q): got %v, %v; want ErrInvalid", bad, got, err)
		}
	}
}
