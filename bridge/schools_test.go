package bridge

import (
	"strings"
	"testing"
	"time"

	"github.com/landesmessenger/landesmessenger/config"
)

const schoolsYAML = `schools:
  - number: "1234"
    name: Musterschule Kassel
    city: Kassel
    office: Poststelle@1234.Schulen.Hessen.test
    teachers:
      - {name: Anna Beispiel, mailbox: a.beispiel@1234.schulen.hessen.test}
  - number: "5678"
    name: Goethe-Gymnasium Frankfurt
    office: poststelle@5678.schulen.hessen.test
`

func TestParseSchools(t *testing.T) {
	s, err := ParseSchools("schulen.yaml", []byte(schoolsYAML))
	if err != nil {
		t.Fatal(err)
	}
	sc, ok := s.School("1234")
	if !ok || sc.Office.Address != "poststelle@1234.schulen.hessen.test" || len(sc.Teachers) != 1 {
		t.Fatalf("school 1234: %+v", sc)
	}
	if got := sc.DisplayName(sc.Office); got != "Musterschule Kassel (Schule 1234)" {
		t.Errorf("office name %q", got)
	}
	if got := sc.DisplayName(sc.Teachers[0]); got != "Anna Beispiel (Musterschule Kassel)" {
		t.Errorf("teacher name %q", got)
	}
	if got := sc.Office.GhostID(); got != "1234" {
		t.Errorf("office ghost %q", got)
	}
	if got := sc.Teachers[0].GhostID(); got != "1234.a.beispiel" {
		t.Errorf("teacher ghost %q", got)
	}
	if m, ok := s.Mailbox("A.Beispiel@1234.schulen.hessen.test"); !ok || m.School != "1234" {
		t.Errorf("mailbox lookup: %+v %t", m, ok)
	}
	if got := s.Numbers(); strings.Join(got, ",") != "1234,5678" {
		t.Errorf("numbers %v", got)
	}
}

func TestParseSchoolsErrors(t *testing.T) {
	bad := `schools:
  - number: "12a"
    name: X
    office: "Sekretariat <sek@x.test>"
  - number: "1"
    name: Y
    office: sek@y.test
    pupils:
      - {name: Max, mailbox: max@y.test}
  - number: "2"
    office: sek@y.test
    teachers:
      - {name: Z}
`
	_, err := ParseSchools("schulen.yaml", []byte(bad))
	for _, want := range []string{
		`schulen.yaml:2: schools[0].number: invalid school number "12a"`,
		`schulen.yaml:4: schools[0].office: invalid mailbox "Sekretariat <sek@x.test>"`,
		`schulen.yaml:8: schools[1].pupils: pupils are never bridged`,
		`schulen.yaml:10: schools[2].name: missing required field`,
		`schulen.yaml:11: schools[2].office: mailbox sek@y.test is already listed for school 1`,
		`schulen.yaml:13: schools[2].teachers[0]: name and mailbox are required`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want an error containing %q; got %v", want, err)
		}
	}
	for _, in := range []string{"", "schools: 3", "- a", "schools:\n  - 5\n", "other: 1\n"} {
		if _, err := ParseSchools("s.yaml", []byte(in)); err == nil {
			t.Errorf("ParseSchools(%q): no error", in)
		}
	}
}

func FuzzParseSchools(f *testing.F) {
	f.Add([]byte(schoolsYAML))
	f.Add([]byte("schools:\n  - {number: \"1\", name: a, office: a@b.c, teachers: [{name: x, mailbox: y@z.c}]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSchools("f.yaml", data)
		if err == nil && s == nil {
			t.Fatal("no error and no directory")
		}
	})
}

func TestRegistration(t *testing.T) {
	path := t.TempDir() + "/bridge/registration.yaml"
	first, err := WriteRegistration(path, "127.0.0.13", "127.0.0.1:29330")
	if err != nil {
		t.Fatal(err)
	}
	again, err := WriteRegistration(path, "127.0.0.13", "127.0.0.1:29331")
	if err != nil {
		t.Fatal(err)
	}
	if again.AppToken != first.AppToken || again.ServerToken != first.ServerToken || again.URL != "http://127.0.0.1:29331" {
		t.Errorf("rewritten registration: tokens kept %t, URL %s", again.AppToken == first.AppToken, again.URL)
	}
	got, err := ReadRegistration(path)
	if err != nil || got.SenderLocalpart != BotLocalpart || len(got.Namespaces.UserIDs) != 2 || !got.Namespaces.UserIDs[0].Exclusive {
		t.Errorf("read: %+v, %v", got, err)
	}
	if _, err := ReadRegistration(t.TempDir() + "/none.yaml"); err == nil || !strings.Contains(err.Error(), "generate-registration") {
		t.Errorf("missing file: %v", err)
	}
}

func TestRecipient(t *testing.T) {
	s, err := ParseSchools("schulen.yaml", []byte(schoolsYAML))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2027, 7, 31, 12, 0, 0, 0, time.UTC)
	cfg := &config.Bridge{MailDomain: "sb.test", Rooms: []config.BridgeRoom{
		{ID: "a", Schools: []string{"1234"}, Until: time.Date(2027, 7, 31, 0, 0, 0, 0, time.UTC)},
		{ID: "b", Schools: []string{"5678"}, Teachers: true},
	}}
	r := &Running{net: &Network{Config: cfg, Schools: s, Now: func() time.Time { return now }}}
	for _, tc := range []struct{ from, to, room, err string }{
		{"poststelle@1234.schulen.hessen.test", "raum-a@sb.test", "a", ""},
		{"a.beispiel@1234.schulen.hessen.test", "raum-a@sb.test", "", "not a mailbox of this room"},
		{"poststelle@5678.schulen.hessen.test", "raum-a@sb.test", "", "not a mailbox of this room"},
		{"poststelle@5678.schulen.hessen.test", "RAUM-B@sb.test", "b", ""},
		{"poststelle@1234.schulen.hessen.test", "raum-c@sb.test", "", "no room has the address"},
	} {
		room, err := r.Recipient(tc.from, tc.to)
		if room != tc.room || (tc.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("Recipient(%s, %s) = %q, %v; want %q, %q", tc.from, tc.to, room, err, tc.room, tc.err)
		}
	}
	now = now.Add(24 * time.Hour)
	if _, err := r.Recipient("poststelle@1234.schulen.hessen.test", "raum-a@sb.test"); err == nil || !strings.Contains(err.Error(), "ended with the school year on 2027-07-31") {
		t.Errorf("after the school year: %v", err)
	}
}
