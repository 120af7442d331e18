package archive

import (
	"encoding/json"
	"testing"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/records"
)

func TestParseReplyMark(t *testing.T) {
	for _, tc := range []struct {
		body, want string
		ok         bool
	}{
		{"!akte HMdIS-Z-12/2026", "HMdIS-Z-12/2026", true},
		{"  !akte   Az. 3 K 117/26 (Ü) ", "Az. 3 K 117/26 (Ü)", true},
		{"!record HKM-1", "HKM-1", true},
		{"!akte", "", true},
		{"!akten 5", "", false},
		{"akte 5", "", false},
		{"Bitte !akte 5", "", false},
	} {
		got, ok := ParseReplyMark(tc.body)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseReplyMark(%q) = %q, %t; want %q, %t", tc.body, got, ok, tc.want, tc.ok)
		}
	}
	for key, want := range map[string]bool{"📁": true, "📁\ufe0f": true, "📂": false, "👍": false, "": false} {
		if got := IsFolder(key); got != want {
			t.Errorf("IsFolder(%q) = %t, want %t", key, got, want)
		}
	}
}

func parsed(t *testing.T, typ event.Type, sender id.UserID, content string) *event.Event {
	t.Helper()
	evt := &event.Event{Type: typ, ID: "$mark", RoomID: "!r:x", Sender: sender, Timestamp: 1_795_000_000_000}
	if err := json.Unmarshal([]byte(content), &evt.Content); err != nil {
		t.Fatal(err)
	}
	if err := evt.Content.ParseRaw(typ); err != nil {
		t.Fatal(err)
	}
	return evt
}

func TestMarkOf(t *testing.T) {
	const bot = id.UserID("@lm-archiv:x")
	reply := `{"msgtype":"m.text","body":"> <@a:x> Vermerk\n\n!akte HMdIS-Z-12/2026","m.relates_to":{"m.in_reply_to":{"event_id":"$target"}}}`
	for _, tc := range []struct {
		name    string
		evt     *event.Event
		ok      bool
		kind    records.MarkKind
		caseRef records.CaseRef
	}{
		{"folder", parsed(t, event.EventReaction, "@a:x", `{"m.relates_to":{"rel_type":"m.annotation","event_id":"$target","key":"📁"}}`), true, records.MarkReaction, ""},
		{"other reaction", parsed(t, event.EventReaction, "@a:x", `{"m.relates_to":{"rel_type":"m.annotation","event_id":"$target","key":"👍"}}`), false, "", ""},
		{"reply", parsed(t, event.EventMessage, "@a:x", reply), true, records.MarkReply, "HMdIS-Z-12/2026"},
		{"reply by the bot", parsed(t, event.EventMessage, bot, reply), false, "", ""},
		{"not a reply", parsed(t, event.EventMessage, "@a:x", `{"msgtype":"m.text","body":"!akte HMdIS-Z-12/2026"}`), false, "", ""},
		{"invalid case", parsed(t, event.EventMessage, "@a:x", `{"msgtype":"m.text","body":"!akte a\u202eb","m.relates_to":{"m.in_reply_to":{"event_id":"$target"}}}`), false, "", ""},
		{"notice", parsed(t, event.EventMessage, "@a:x", `{"msgtype":"m.notice","body":"!akte X","m.relates_to":{"m.in_reply_to":{"event_id":"$target"}}}`), false, "", ""},
	} {
		m, ok := MarkOf(tc.evt, bot)
		if ok != tc.ok || ok && (m.Kind != tc.kind || m.Case != tc.caseRef || m.Target != "$target" || m.MarkEvent != "$mark" || m.MarkedBy != tc.evt.Sender) {
			t.Errorf("%s: got %+v, %t", tc.name, m, ok)
		}
	}
}
