package command

import (
	"errors"
	"maps"
	"strings"
	"testing"
)

// a and o build the expected Args and Options of an invocation.
func a(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

var o = a

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		cmd     string // Spec.Name; "" for no command
		lang    Lang
		args    map[string]string
		options map[string]string
	}{
		{name: "german", body: "!benutzer zeigen mmustermann", cmd: "user show", lang: German, args: a("id", "mmustermann")},
		{name: "english", body: "!user show mmustermann", cmd: "user show", lang: English, args: a("id", "mmustermann")},
		{name: "same words are German", body: "!status", cmd: "status", lang: German},
		{name: "plan", body: "!plan", cmd: "plan", lang: German},
		{name: "one word", body: "!protokoll", cmd: "audit", lang: German},
		{name: "leading white space", body: " \n\t!status", cmd: "status", lang: German},
		{name: "case of words", body: "!BENUTZER Zeigen MMustermann", cmd: "user show", lang: German, args: a("id", "mmustermann")},
		{name: "umlaut ö", body: "!föderation zeigen", cmd: "federation show", lang: German},
		{name: "umlaut ü", body: "!mitglied hinzufügen hmdis/lage eschmidt", cmd: "member add", lang: German,
			args: a("room", "hmdis/lage", "id", "eschmidt")},
		{name: "umlaut ß", body: "!raum schließen hmdis/lage", cmd: "room close", lang: German, args: a("room", "hmdis/lage")},
		{name: "capital umlaut", body: "!FÖDERATION ZEIGEN", cmd: "federation show", lang: German},
		{name: "ascii spelling", body: "!mitglied hinzufuegen hmdis/lage eschmidt", cmd: "member add", lang: German,
			args: a("room", "hmdis/lage", "id", "eschmidt")},
		{name: "matrix id", body: "!user show @mmustermann:land.hessen.de", cmd: "user show", lang: English,
			args: a("id", "@mmustermann:land.hessen.de")},
		{name: "matrix id with port", body: "!benutzer zeigen @x:127.0.0.1:8448", cmd: "user show", lang: German,
			args: a("id", "@x:127.0.0.1:8448")},
		{name: "room id", body: "!room show !abcDEF:land.hessen.de", cmd: "room show", lang: English,
			args: a("room", "!abcDEF:land.hessen.de")},
		{name: "room id v12", body: "!room show !Xq3-_abc", cmd: "room show", lang: English, args: a("room", "!Xq3-_abc")},
		{name: "room alias", body: "!raum zeigen #Lage:land.hessen.de", cmd: "room show", lang: German,
			args: a("room", "#Lage:land.hessen.de")},
		{name: "room key lower-cased", body: "!raum zeigen HMdIS/Allgemein", cmd: "room show", lang: German,
			args: a("room", "hmdis/allgemein")},
		{name: "all arguments and options", body: "!benutzer anlegen eschulz hmdis Eva Schulz einheit=lpp rolle=mitglied",
			cmd: "user add", lang: German, args: a("id", "eschulz", "tenant", "hmdis", "given", "Eva", "surname", "Schulz"),
			options: o("unit", "lpp", "role", "member")},
		{name: "english option keys on german command", body: "!benutzer anlegen eschulz hmdis Eva Schulz unit=lpp role=admin",
			cmd: "user add", lang: German, args: a("id", "eschulz", "tenant", "hmdis", "given", "Eva", "surname", "Schulz"),
			options: o("unit", "lpp", "role", "admin")},
		{name: "options first and upper case", body: "!user add ROLLE=Moderator eschulz hmdis Eva Schulz",
			cmd: "user add", lang: English, args: a("id", "eschulz", "tenant", "hmdis", "given", "Eva", "surname", "Schulz"),
			options: o("role", "moderator")},
		{name: "quoted names", body: `!benutzer anlegen abm hmdis "Anna Lena" "von Berg"`,
			cmd: "user add", lang: German, args: a("id", "abm", "tenant", "hmdis", "given", "Anna Lena", "surname", "von Berg")},
		{name: "german typographic quotes", body: "!benutzer anlegen abm hmdis „Anna Lena“ Berg",
			cmd: "user add", lang: German, args: a("id", "abm", "tenant", "hmdis", "given", "Anna Lena", "surname", "Berg")},
		{name: "english typographic quotes", body: "!user add abm hmdis “Anna Lena” Berg",
			cmd: "user add", lang: English, args: a("id", "abm", "tenant", "hmdis", "given", "Anna Lena", "surname", "Berg")},
		{name: "mixed-up typographic quotes", body: "!user add abm hmdis ”Anna Lena” Berg",
			cmd: "user add", lang: English, args: a("id", "abm", "tenant", "hmdis", "given", "Anna Lena", "surname", "Berg")},
		{name: "apostrophe is no quote", body: "!user add ob hmdis Sean O'Brien",
			cmd: "user add", lang: English, args: a("id", "ob", "tenant", "hmdis", "given", "Sean", "surname", "O'Brien")},
		{name: "quoted option value", body: `!benutzer sperren jfischer grund="Abordnung bis 30.9."`,
			cmd: "user disable", lang: German, args: a("id", "jfischer"), options: o("reason", "Abordnung bis 30.9.")},
		{name: "typographic quoted option value", body: "!benutzer sperren jfischer grund=„Abordnung bis 30.9.“",
			cmd: "user disable", lang: German, args: a("id", "jfischer"), options: o("reason", "Abordnung bis 30.9.")},
		{name: "escaped quotes", body: `!user disable jfischer reason="the \"new\" job \\ here"`,
			cmd: "user disable", lang: English, args: a("id", "jfischer"), options: o("reason", `the "new" job \ here`)},
		{name: "typographic quotes in plain quotes", body: `!benutzer sperren a grund="sagt „ja“ und “no”"`,
			cmd: "user disable", lang: German, args: a("id", "a"), options: o("reason", "sagt „ja“ und “no”")},
		{name: "lone backslash", body: `!user disable jfischer reason=C:\temp`,
			cmd: "user disable", lang: English, args: a("id", "jfischer"), options: o("reason", `C:\temp`)},
		{name: "reason trimmed", body: `!user disable jfischer reason="  moved  "`,
			cmd: "user disable", lang: English, args: a("id", "jfischer"), options: o("reason", "moved")},
		{name: "rest unquoted", body: "!raum anlegen hmdis lage Lage und Einsatz",
			cmd: "room create", lang: German, args: a("tenant", "hmdis", "roomid", "lage", "name", "Lage und Einsatz")},
		{name: "rest quoted with options", body: `!raum anlegen hmdis lage "Lage und Einsatz" klasse=behoerdenuebergreifend zielgruppe=leitung`,
			cmd: "room create", lang: German, args: a("tenant", "hmdis", "roomid", "lage", "name", "Lage und Einsatz"),
			options: o("class", "cross-agency", "audience", "leaders")},
		{name: "rest with option inside and umlaut value", body: "!raum anlegen hmdis lage Lage klasse=Behördenübergreifend Einsatz",
			cmd: "room create", lang: German, args: a("tenant", "hmdis", "roomid", "lage", "name", "Lage Einsatz"),
			options: o("class", "cross-agency")},
		{name: "rest keeps unknown key=value", body: "!room create hmdis lage Lage a=b",
			cmd: "room create", lang: English, args: a("tenant", "hmdis", "roomid", "lage", "name", "Lage a=b")},
		{name: "rest keeps quoted option", body: `!room create hmdis lage Lage "class=external"`,
			cmd: "room create", lang: English, args: a("tenant", "hmdis", "roomid", "lage", "name", "Lage class=external")},
		{name: "help without words", body: "!hilfe", cmd: "help", lang: German},
		{name: "help with words", body: "!help user add", cmd: "help", lang: English, args: a("command", "user add")},
		{name: "role value", body: "!rolle vergeben eschmidt Moderator", cmd: "role grant", lang: German,
			args: a("id", "eschmidt", "role", "moderator")},
		{name: "audit count and options", body: "!audit 050 user=@x:y tenant=HMDIS", cmd: "audit", lang: English,
			args: a("count", "50"), options: o("user", "@x:y", "tenant", "hmdis")},
		{name: "audit german options", body: "!protokoll nutzer=jfischer mandant=hmdis", cmd: "audit", lang: German,
			options: o("user", "jfischer", "tenant", "hmdis")},
		{name: "no-break space separates", body: "!benutzer\u00a0zeigen\u202fmmustermann", cmd: "user show", lang: German,
			args: a("id", "mmustermann")},
		{name: "guest invite", body: `!gast einladen hessenforst/holzmarkt Karl Käufer "Holz AG" karl.kaeufer@holz-ag.de bis=2027-03-31`,
			cmd: "guest invite", lang: German,
			args:    a("room", "hessenforst/holzmarkt", "given", "Karl", "surname", "Käufer", "organisation", "Holz AG", "email", "karl.kaeufer@holz-ag.de"),
			options: o("until", "2027-03-31")},
		{name: "guest invite english without until", body: "!guest invite HessenForst/Holzmarkt Karl Käufer Holzhandel karl@example.org",
			cmd: "guest invite", lang: English,
			args: a("room", "hessenforst/holzmarkt", "given", "Karl", "surname", "Käufer", "organisation", "Holzhandel", "email", "karl@example.org")},
		{name: "guest invite by alias, german date", body: "!gast einladen #lm.hessenforst.holzmarkt:forst.test Jana „von Jäger“ Jagdpacht jana@example.org until=01.10.2027",
			cmd: "guest invite", lang: German,
			args:    a("room", "#lm.hessenforst.holzmarkt:forst.test", "given", "Jana", "surname", "von Jäger", "organisation", "Jagdpacht", "email", "jana@example.org"),
			options: o("until", "01.10.2027")},
		{name: "guest extend", body: "!gast verlängern ext.karl.kaeufer bis=2027-06-30", cmd: "guest extend", lang: German,
			args: a("id", "ext.karl.kaeufer"), options: o("until", "2027-06-30")},
		{name: "guest extend by matrix id", body: "!guest extend @ext.karl.kaeufer:forst.test until=2027-06-30", cmd: "guest extend", lang: English,
			args: a("id", "@ext.karl.kaeufer:forst.test"), options: o("until", "2027-06-30")},
		{name: "guest list", body: "!gast liste", cmd: "guest list", lang: German},
		{name: "guest list of a tenant", body: "!guest list HessenForst", cmd: "guest list", lang: English, args: a("tenant", "hessenforst")},
		{name: "guest remove", body: "!gast entfernen ext.karl.kaeufer", cmd: "guest remove", lang: German, args: a("id", "ext.karl.kaeufer")},
		{name: "retention set", body: "!aufbewahrung setzen hmdis/projekt max=90d", cmd: "retention set", lang: German,
			args: a("room", "hmdis/projekt"), options: o("max", "90d")},
		{name: "retention set forever, option first", body: "!Retention Set MAX=forever hmdis/projekt", cmd: "retention set", lang: English,
			args: a("room", "hmdis/projekt"), options: o("max", "forever")},
		{name: "retention reset", body: "!aufbewahrung zurücksetzen hmdis/projekt", cmd: "retention reset", lang: German,
			args: a("room", "hmdis/projekt")},
		{name: "deletion log", body: "!loeschprotokoll", cmd: "deletionlog", lang: German},
		{name: "deletion log of a room", body: "!Löschprotokoll hmdis/projekt anzahl=050", cmd: "deletionlog", lang: German,
			args: a("room", "hmdis/projekt"), options: o("count", "50")},
		{name: "deletion log english", body: "!deletionlog count=5", cmd: "deletionlog", lang: English, options: o("count", "5")},
		{name: "chat", body: "Guten Morgen!"},
		{name: "empty", body: ""},
		{name: "bang alone", body: "!"},
		{name: "bang and space", body: "! wichtig"},
		{name: "bangs", body: "!!!"},
		{name: "bang digit", body: "!1"},
		{name: "reply fallback", body: "> <@x:y> !status\n\nok"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv, err := Parse(tc.body)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.body, err)
			}
			if tc.cmd == "" {
				if inv != nil {
					t.Fatalf("Parse(%q) = %s, want no command", tc.body, inv.Spec.Name)
				}
				return
			}
			if inv == nil {
				t.Fatalf("Parse(%q) = nil, want %s", tc.body, tc.cmd)
			}
			if tc.args == nil {
				tc.args = map[string]string{}
			}
			if tc.options == nil {
				tc.options = map[string]string{}
			}
			if inv.Spec.Name != tc.cmd || inv.Lang != tc.lang || !maps.Equal(inv.Args, tc.args) || !maps.Equal(inv.Options, tc.options) {
				t.Errorf("Parse(%q)\ngot  %s %s args %v options %v\nwant %s %s args %v options %v", tc.body,
					inv.Spec.Name, inv.Lang, inv.Args, inv.Options, tc.cmd, tc.lang, tc.args, tc.options)
			}
			if inv.Raw != strings.TrimLeft(tc.body, " \n\t") {
				t.Errorf("Raw = %q, want the body", inv.Raw)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	long := "!benutzer zeigen " + strings.Repeat("x", MaxBodyBytes)
	tests := []struct {
		name string
		body string
		cmd  string // Spec.Name of the error; "" for none
		lang Lang
		want []string // parts of the error text
	}{
		{name: "missing argument", body: "!benutzer zeigen", cmd: "user show", lang: German,
			want: []string{"Aufruf: `!benutzer zeigen KENNUNG` — es fehlt: KENNUNG"}},
		{name: "missing argument english", body: "!user show", cmd: "user show", lang: English,
			want: []string{"Usage: `!user show ID` — missing: ID"}},
		{name: "missing arguments", body: "!benutzer anlegen a b", cmd: "user add", lang: German,
			want: []string{"es fehlen: VORNAME, NACHNAME"}},
		{name: "missing rest", body: "!room create hmdis lage class=external", cmd: "room create", lang: English,
			want: []string{"missing: NAME"}},
		{name: "extra argument", body: "!benutzer zeigen a b", cmd: "user show", lang: German,
			want: []string{"zu viel: `b`"}},
		{name: "extra on command without arguments", body: "!status jetzt", cmd: "status", lang: German,
			want: []string{"Aufruf: `!status` — zu viel: `jetzt`"}},
		{name: "unknown option", body: "!benutzer anlegen a hmdis b c abteilung=z", cmd: "user add", lang: German,
			want: []string{"unbekannte Option `abteilung`; möglich: `einheit`, `rolle`"}},
		{name: "unknown option english", body: "!user add a hmdis b c department=z", cmd: "user add", lang: English,
			want: []string{"unknown option `department`; possible: `unit`, `role`"}},
		{name: "option on command without options", body: "!plan x=y", cmd: "plan", lang: German,
			want: []string{"der Befehl hat keine Optionen"}},
		{name: "option of another command", body: "!user show x reason=y", cmd: "user show", lang: English,
			want: []string{"unknown option `reason`"}},
		{name: "duplicate option", body: "!user move a hmdis unit=z einheit=lpp", cmd: "user move", lang: English,
			want: []string{"option `unit` given twice"}},
		{name: "empty option value", body: "!benutzer sperren a grund=", cmd: "user disable", lang: German,
			want: []string{"TEXT darf nicht leer sein"}},
		{name: "blank option value", body: `!benutzer sperren a grund="  "`, cmd: "user disable", lang: German,
			want: []string{"TEXT darf nicht leer sein"}},
		{name: "bad option value", body: "!benutzer anlegen a hmdis b c rolle=chef", cmd: "user add", lang: German,
			want: []string{"`chef` ist kein gültiger Wert für ROLLE; erlaubt: `mitglied`, `moderator`, `admin`"}},
		{name: "bad option value english", body: "!room create hmdis x y class=secret", cmd: "room create", lang: English,
			want: []string{"`secret` is no valid CLASS; allowed: `internal`, `cross-agency`, `external`"}},
		{name: "member is no role to grant", body: "!role grant a member", cmd: "role grant", lang: English,
			want: []string{"allowed: `moderator`, `admin`"}},
		{name: "bad id", body: "!benutzer zeigen Max!", cmd: "user show", lang: German,
			want: []string{"`Max!` ist kein gültiger Wert für KENNUNG; erwartet: eine Kennung"}},
		{name: "bad matrix id", body: "!user show @nocolon", cmd: "user show", lang: English,
			want: []string{"`@nocolon` is no valid ID"}},
		{name: "bad tenant", body: "!mandant zeigen hm_dis", cmd: "tenant show", lang: German,
			want: []string{"Kleinbuchstaben, Ziffern und Bindestriche"}},
		{name: "bad room", body: "!raum zeigen allgemein", cmd: "room show", lang: German,
			want: []string{"`mandant/raum`"}},
		{name: "bad count", body: "!audit 1001", cmd: "audit", lang: English,
			want: []string{"a number from 1 to 1000"}},
		{name: "negative count", body: "!audit -5", cmd: "audit", lang: English, want: []string{"no valid COUNT"}},
		{name: "plus count", body: "!audit +5", cmd: "audit", lang: English, want: []string{"no valid COUNT"}},
		{name: "guest invite without e-mail", body: `!gast einladen hessenforst/holzmarkt Karl Käufer "Holz AG"`, cmd: "guest invite", lang: German,
			want: []string{"Aufruf: `!gast einladen RAUM VORNAME NACHNAME ORGANISATION EMAIL [bis=DATUM]` — es fehlt: EMAIL"}},
		{name: "guest invite into a bare room id", body: "!guest invite holzmarkt Karl Käufer Holz karl@example.org", cmd: "guest invite", lang: English,
			want: []string{"`holzmarkt` is no valid ROOM"}},
		{name: "guest invite with until twice", body: "!gast einladen a/b K K O e@x.de bis=2027-01-01 until=2027-02-01", cmd: "guest invite", lang: German,
			want: []string{"Option `bis` doppelt"}},
		{name: "guest extend with a bad id", body: "!guest extend Karl! until=2027-01-01", cmd: "guest extend", lang: English,
			want: []string{"`Karl!` is no valid ID"}},
		{name: "guest list of two tenants", body: "!gast liste hessenforst hmdis", cmd: "guest list", lang: German,
			want: []string{"zu viel: `hmdis`"}},
		{name: "guest remove without id", body: "!guest remove", cmd: "guest remove", lang: English, want: []string{"missing: ID"}},
		{name: "incomplete guest command", body: "!gast", lang: German,
			want: []string{"Unvollständiger Befehl `!gast`. Möglich: `!gast einladen`, `!gast verlaengern`, `!gast liste`, `!gast entfernen`"}},
		{name: "retention set without max", body: "!aufbewahrung setzen hmdis/projekt", cmd: "retention set", lang: German,
			want: []string{"Aufruf: `!aufbewahrung setzen RAUM max=DAUER` — es fehlt: max=DAUER"}},
		{name: "retention set without anything", body: "!retention set", cmd: "retention set", lang: English,
			want: []string{"Usage: `!retention set ROOM max=DURATION` — missing: ROOM, max=DURATION"}},
		{name: "deletion log count too high", body: "!deletionlog count=5000", cmd: "deletionlog", lang: English,
			want: []string{"no valid N"}},
		{name: "empty quoted argument", body: `!benutzer zeigen ""`, cmd: "user show", lang: German,
			want: []string{"KENNUNG darf nicht leer sein"}},
		{name: "unknown command with suggestion", body: "!benutzr zeigen x", lang: German,
			want: []string{"Unbekannter Befehl `!benutzr`. Vielleicht `!benutzer zeigen`? Alle Befehle: `!hilfe`"}},
		{name: "unknown english command with suggestion", body: "!usr show x", lang: English,
			want: []string{"Unknown command `!usr`. Did you mean `!user show`? All commands: `!help`"}},
		{name: "typo in second word", body: "!benutzer zeig x", lang: German,
			want: []string{"Unbekannter Befehl `!benutzer zeig`. Vielleicht `!benutzer zeigen`? Hilfe: `!hilfe benutzer`"}},
		{name: "unknown second word", body: "!user frobnicate", lang: English,
			want: []string{"Unknown command `!user frobnicate`. Possible: `!user show`, `!user add`", "Help: `!help user`"}},
		{name: "incomplete command", body: "!mandant", lang: German,
			want: []string{"Unvollständiger Befehl `!mandant`. Möglich: `!mandant liste`, `!mandant zeigen`. Hilfe: `!hilfe mandant`"}},
		{name: "incomplete umlaut group", body: "!föderation", lang: German,
			want: []string{"Möglich: `!foederation zeigen`"}},
		{name: "one word typo", body: "!stauts", lang: German, want: []string{"Vielleicht `!status`?"}},
		{name: "unknown without words is german", body: "!xyzzy foo", lang: German,
			want: []string{"Unbekannter Befehl `!xyzzy`. Alle Befehle: `!hilfe`"}},
		{name: "unclosed quote", body: `!benutzer zeigen "x`, lang: German, want: []string{"Anführungszeichen"}},
		{name: "unclosed quote english", body: `!user show "x`, lang: English, want: []string{"A quote is not closed."}},
		{name: "control character in quotes", body: "!user disable a reason=\"a\tb\"", lang: English,
			want: []string{"control characters"}},
		{name: "control character", body: "!benutzer zeigen a\x00b", lang: German, want: []string{"Steuerzeichen"}},
		{name: "escape character", body: "!benutzer zeigen a\x1bb", lang: German, want: []string{"Steuerzeichen"}},
		{name: "bidi override", body: "!benutzer sperren a grund=x\u202ey", lang: German, want: []string{"Steuerzeichen"}},
		{name: "too long", body: long, lang: German, want: []string{"höchstens 4096 Byte"}},
		{name: "too many words", body: "!hilfe" + strings.Repeat(" a", MaxTokens), lang: German,
			want: []string{"höchstens 64"}},
		{name: "invalid utf-8", body: "!status \xff", lang: German, want: []string{"kein gültiger Text"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv, err := Parse(tc.body)
			var ue *UsageError
			if !errors.As(err, &ue) {
				t.Fatalf("Parse(%q) = %v, %v; want a UsageError", tc.body, inv, err)
			}
			if inv != nil {
				t.Errorf("Parse(%q) returned an invocation with its error", tc.body)
			}
			name := ""
			if ue.Spec != nil {
				name = ue.Spec.Name
			}
			if name != tc.cmd || ue.Lang != tc.lang {
				t.Errorf("Parse(%q): got error for %q in %s, want %q in %s", tc.body, name, ue.Lang, tc.cmd, tc.lang)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Parse(%q) error\ngot  %s\nwant it to contain %s", tc.body, err, w)
				}
			}
		})
	}
}

func TestParseAtLimits(t *testing.T) {
	words := "!hilfe" + strings.Repeat(" a", MaxTokens-1)
	if _, err := Parse(words); err != nil {
		t.Errorf("Parse with %d words: %v", MaxTokens, err)
	}
	body := "!benutzer sperren a grund=" + strings.Repeat("x", MaxBodyBytes-len("!benutzer sperren a grund="))
	if _, err := Parse(body); err != nil {
		t.Errorf("Parse of %d bytes: %v", len(body), err)
	}
}

// TestParseEchoBounded checks that errors quote little of the input, which
// the caller sends to the room.
func TestParseEchoBounded(t *testing.T) {
	long := strings.Repeat("y", 300)
	for _, body := range []string{
		"!" + long,
		"!benutzer " + long,
		"!benutzer zeigen " + long + "!",
		"!benutzer zeigen a " + long,
		"!benutzer anlegen a b c d " + long + "=x",
		"!benutzer anlegen a b c d rolle=" + long,
		"!audit " + long,
		"!room show " + long,
	} {
		_, err := Parse(body)
		if err == nil {
			t.Errorf("Parse(%.30q…): no error", body)
			continue
		}
		if n := strings.Count(err.Error(), "y"); n > 100 {
			t.Errorf("Parse(%.30q…): error quotes %d characters of the input: %s", body, n, err)
		}
	}
}

func TestStringRoundTrip(t *testing.T) {
	for _, body := range []string{
		`!raum anlegen hmdis lage "Lage  und Einsatz" klasse=extern`,
		`!benutzer sperren a grund="sagt \"nein\" \\ „so“"`,
		`!user add "@a=b:c" hmdis "Anna Lena" Berg role=member`,
		"!hilfe benutzer zeigen",
		"!status",
		"!help a=b",
		`!audit 5 user=@x:y`,
		`!gast einladen hessenforst/holzmarkt Karl Käufer "Holz AG" karl.kaeufer@holz-ag.de bis=2027-03-31`,
		`!guest extend @ext.karl.kaeufer:forst.test until=01.10.2027`,
		`!aufbewahrung setzen max=unbegrenzt hmdis/projekt`,
		`!deletionlog count=7`,
	} {
		inv, err := Parse(body)
		if err != nil || inv == nil {
			t.Fatalf("Parse(%q) = %v, %v", body, inv, err)
		}
		checkRoundTrip(t, body, inv)
	}
}

func TestCode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a", "`a`"},
		{"a`b", "``a`b``"},
		{"`a", "`` `a ``"},
		{"a``", "``` a`` ```"},
	}
	for _, tc := range tests {
		if got := code(tc.in); got != tc.want {
			t.Errorf("code(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseLang(t *testing.T) {
	tests := []struct {
		body string
		want Lang // of the invocation or the error
	}{
		{"!status", English},
		{"!plan", English},
		{"!benutzer zeigen x", German},
		{"!benutzer zeigen", German},
		{"!user show x", English},
		{"!xyzzy", English},
		{"!stauts", English},
		{"!benutzr zeigen", German},
		{`!xyzzy "a`, English},
		{`!hilfe "a`, German},
	}
	for _, tc := range tests {
		inv, err := ParseLang(tc.body, English)
		var ue *UsageError
		switch {
		case errors.As(err, &ue):
			if ue.Lang != tc.want {
				t.Errorf("ParseLang(%q, en): error in %s, want %s: %v", tc.body, ue.Lang, tc.want, err)
			}
		case err != nil || inv == nil:
			t.Errorf("ParseLang(%q, en) = %v, %v", tc.body, inv, err)
		case inv.Lang != tc.want:
			t.Errorf("ParseLang(%q, en): Lang %s, want %s", tc.body, inv.Lang, tc.want)
		}
	}
}
