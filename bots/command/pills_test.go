package command

import (
	"strings"
	"testing"
)

func TestResolvePills(t *testing.T) {
	pill := func(id, name string) string { return `<a href="https://matrix.to/#/` + id + `">` + name + `</a>` }
	tests := []struct {
		name, body, formatted, want string
	}{
		{"no formatted body", "!benutzer zeigen mmustermann", "", "!benutzer zeigen mmustermann"},
		{"user pill", "!benutzer zeigen Max Mustermann",
			"!benutzer zeigen " + pill("@mmustermann:land.hessen.de", "Max Mustermann"),
			"!benutzer zeigen @mmustermann:land.hessen.de"},
		{"two pills, same name twice", "!mitglied hinzufuegen Lage Lage",
			"!mitglied hinzufuegen " + pill("%23lage:land.hessen.de", "Lage") + " " + pill("%40lage:land.hessen.de", "Lage"),
			"!mitglied hinzufuegen #lage:land.hessen.de @lage:land.hessen.de"},
		{"room id with via", "!raum zeigen Lage",
			`!raum zeigen <a href="https://matrix.to/#/!abc:land.hessen.de?via=land.hessen.de">Lage</a>`,
			"!raum zeigen !abc:land.hessen.de"},
		{"escaped name and nested tags", "!user show Anna & Bob",
			`!user show <a data-mx-pill href='https://matrix.to/#/@ab:x.de'><b>Anna &amp; Bob</b></a>`,
			"!user show @ab:x.de"},
		{"body keeps its escapes", `!benutzer sperren Max grund="a \"b\""`,
			"!benutzer sperren " + pill("@max:x.de", "Max") + ` grund=&quot;a &quot;b&quot;&quot;`,
			`!benutzer sperren @max:x.de grund="a \"b\""`},
		{"event link is no pill", "!raum zeigen Nachricht",
			`!raum zeigen <a href="https://matrix.to/#/!r:x.de/$event">Nachricht</a>`, "!raum zeigen Nachricht"},
		{"other link", "!raum zeigen Seite", `!raum zeigen <a href="https://example.org/">Seite</a>`, "!raum zeigen Seite"},
		{"bad id", "!user show X", "!user show " + pill("@x", "X"), "!user show X"},
		{"text not in body", "!user show Y", "!user show " + pill("@x:y.de", "X"), "!user show Y"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ResolvePills(tc.body, tc.formatted); got != tc.want {
				t.Errorf("ResolvePills(%q, %q)\ngot  %q\nwant %q", tc.body, tc.formatted, got, tc.want)
			}
		})
	}
	big := strings.Repeat("x", maxFormattedBytes) + pill("@x:y.de", "X")
	if got := ResolvePills("!user show X", big); got != "!user show X" {
		t.Errorf("ResolvePills with a formatted body of %d bytes = %q", len(big), got)
	}
}

func FuzzResolvePills(f *testing.F) {
	f.Add("!user show Max", `!user show <a href="https://matrix.to/#/@max:x.de">Max</a>`)
	f.Fuzz(func(t *testing.T, body, formatted string) {
		got := ResolvePills(body, formatted)
		if len(got) > len(body)+len(formatted) {
			t.Fatalf("ResolvePills(%q, %q) = %q, longer than both", body, formatted, got)
		}
	})
}
