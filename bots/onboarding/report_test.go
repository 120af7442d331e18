package onboarding

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/provisioning"
	"github.com/landesmessenger/landesmessenger/store"
)

func TestReport(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	o := testConfig(t).Onboarding
	const day = 24 * time.Hour
	// 2026-11 appeared at t0, 2027-01 twenty days later; the report is
	// made 16 days after that (its grace period of 14 days ran out).
	if _, err := st.SeeOnboardingVersion(ctx, "2026-11", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SeeOnboardingVersion(ctx, "2027-01", t0.Add(20*day)); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(36 * day)
	o.Version = "2027-01"
	for _, a := range []store.OnboardingAck{
		{Person: "aktuell", Version: "2026-11", At: t0.Add(time.Hour)},
		{Person: "aktuell", Version: "2027-01", At: t0.Add(21 * day)},
		{Person: "alt", Version: "2026-11", At: t0.Add(time.Hour)},
	} {
		a.UserID, a.EventID, a.TextHash = "@"+a.Person+":forst.test", "$e", "h-"+a.Version
		if _, err := st.SaveOnboardingAck(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	for pid, sentAt := range map[string]time.Time{"frisch": now.Add(-day), "saeumig": now.Add(-7 * day)} {
		if err := st.SaveOnboardingDM(ctx, store.OnboardingDM{Person: pid, UserID: "@" + pid + ":forst.test", Bot: "@b:forst.test",
			RoomID: "!" + pid, Version: "2027-01", EventID: "$i", SentAt: sentAt}); err != nil {
			t.Fatal(err)
		}
	}
	guest := person("ext.holz", "hessenforst")
	guest.External = true
	people := []provisioning.Person{person("saeumig", "hessenforst"), person("aktuell", "hessenforst"), person("alt", "hessenforst"),
		person("frisch", "hessenforst"), person("nie", "hessenforst"), person("kwagner", "stk"), guest}
	q := Query{Onboarding: o, People: people, Tenant: "hessenforst", Now: now,
		UserID: func(p provisioning.Person) id.UserID { return id.NewUserID(string(p.ID), "forst.test") }}
	entries, err := Report(ctx, st, q)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"aktuell acknowledged 2027-01 access asked=false",
		"alt overdue 2026-11 no-access asked=false",
		"frisch pending  no-access asked=true",
		"nie pending  no-access asked=false",
		"saeumig overdue  no-access asked=true",
	}
	var got []string
	for _, e := range entries {
		access := "no-access"
		if e.Access {
			access = "access"
		}
		got = append(got, strings.Join([]string{e.Person, string(e.Status), e.Version, access, "asked=" + map[bool]string{true: "true", false: "false"}[e.AskedAt != ""]}, " "))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("report:\ngot\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if e := entries[0]; e.UserID != "@aktuell:forst.test" || e.Tenant != "hessenforst" || e.Unit != "z" ||
		e.AcknowledgedAt != t0.Add(21*day).Format(time.RFC3339) || e.TextHash != "h-2027-01" {
		t.Errorf("entry of aktuell: got %+v", e)
	}

	// Within the grace period, who acknowledged before keeps access.
	q.Now = t0.Add(25 * day)
	entries, _ = Report(ctx, st, q)
	if e := entries[1]; e.Person != "alt" || e.Status != Pending || !e.Access {
		t.Errorf("alt within the grace period: got %+v, want pending with access", e)
	}

	var buf bytes.Buffer
	if err := WriteCSV(&buf, entries[:1]); err != nil {
		t.Fatal(err)
	}
	wantCSV := "person,user_id,tenant,unit,status,version,acknowledged_at,text_hash,asked_at,access\n" +
		"aktuell,@aktuell:forst.test,hessenforst,z,acknowledged,2027-01,2026-11-23T09:00:00Z,h-2027-01,,true\n"
	if buf.String() != wantCSV {
		t.Errorf("CSV:\ngot  %q\nwant %q", buf.String(), wantCSV)
	}
	buf.Reset()
	if err := WriteJSON(&buf, entries); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var first Entry
	if len(lines) != len(entries) || json.Unmarshal([]byte(lines[0]), &first) != nil || first != entries[0] {
		t.Errorf("JSON lines: got %q", buf.String())
	}

	if _, err := Report(ctx, st, Query{}); err != ErrNotConfigured {
		t.Errorf("without an onboarding section: got %v, want ErrNotConfigured", err)
	}
}
