package command

import (
	"errors"
	"strings"
	"testing"
)

func TestHelpEveryCommand(t *testing.T) {
	for _, s := range Table() {
		for _, lang := range []Lang{German, English} {
			t.Run(s.Name+"/"+string(lang), func(t *testing.T) {
				for _, words := range [][]string{s.Words(lang), {"!" + strings.Join(s.Words(lang), " ")}} {
					got, err := Help(lang, words...)
					if err != nil {
						t.Fatalf("Help(%s, %q): %v", lang, words, err)
					}
					want := []string{code(Usage(s, lang)), s.Summary[lang], code(s.Example[lang])}
					for i := range s.Args {
						want = append(want, code(s.Args[i].placeholder(lang)))
					}
					for i := range s.Options {
						want = append(want, code(s.Options[i].key(lang)+"="+s.Options[i].Value.placeholder(lang)))
					}
					if s.Access == Write {
						want = append(want, phAccessWrite.in(lang))
					} else {
						want = append(want, phAccessRead.in(lang))
					}
					if s.Confirm == ConfirmIssuer {
						want = append(want, "✅")
					}
					for _, w := range want {
						if !strings.Contains(got, w) {
							t.Errorf("Help(%s, %q) lacks %q:\n%s", lang, words, w, got)
						}
					}
				}
				// The help in one language names the command in the other.
				other := English
				if lang == English {
					other = German
				}
				got, _ := Help(lang, s.Words(other)...)
				if !strings.Contains(got, code(Usage(s, lang))) {
					t.Errorf("Help(%s, %q) is not the help of %s:\n%s", lang, s.Words(other), s.Name, got)
				}
			})
		}
	}
}

func TestHelpOverview(t *testing.T) {
	for _, lang := range []Lang{German, English} {
		got, err := Help(lang)
		if err != nil {
			t.Fatalf("Help(%s): %v", lang, err)
		}
		read, write := strings.Index(got, phRead.in(lang)), strings.Index(got, phWrite.in(lang))
		if read < 0 || write < read {
			t.Fatalf("Help(%s) has no read and write groups:\n%s", lang, got)
		}
		for _, s := range Table() {
			i := strings.Index(got, code(Usage(s, lang)))
			switch {
			case i < 0:
				t.Errorf("Help(%s) lacks %s", lang, s.Name)
			case (s.Access == Write) != (i > write):
				t.Errorf("Help(%s) lists %s in the wrong group", lang, s.Name)
			}
		}
	}
}

func TestHelpGroup(t *testing.T) {
	got, err := Help(German, "Benutzer")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"`!benutzer zeigen KENNUNG`", "`!benutzer sperren KENNUNG [grund=TEXT]` ✅"} {
		if !strings.Contains(got, w) {
			t.Errorf("Help(de, benutzer) lacks %q:\n%s", w, got)
		}
	}
	if strings.Contains(got, "!raum") {
		t.Errorf("Help(de, benutzer) lists other commands:\n%s", got)
	}
}

func TestHelpUnknown(t *testing.T) {
	tests := []struct {
		lang  Lang
		words []string
		want  string
	}{
		{German, []string{"benutzr", "zeigen"}, "Vielleicht `!benutzer zeigen`?"},
		{English, []string{"benutzr", "zeigen"}, "Did you mean `!user show`?"},
		{English, []string{"nothing"}, "Unknown command `!nothing`. All commands: `!help`"},
		{German, []string{"!"}, "Unbekannter Befehl `!`."},
	}
	for _, tc := range tests {
		_, err := Help(tc.lang, tc.words...)
		var ue *UsageError
		if !errors.As(err, &ue) || ue.Lang != tc.lang || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Help(%s, %q) = %v, want a UsageError in %s with %q", tc.lang, tc.words, err, tc.lang, tc.want)
		}
	}
}

// TestHelpFromInvocation checks the way a handler answers !hilfe.
func TestHelpFromInvocation(t *testing.T) {
	inv, err := Parse("!hilfe benutzer sperren")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Help(inv.Lang, inv.Args["command"])
	if err != nil || !strings.Contains(got, "`!benutzer sperren KENNUNG [grund=TEXT]`") {
		t.Errorf("Help(%s, %q) = %q, %v", inv.Lang, inv.Args["command"], got, err)
	}
}

// TestHelpTexts checks what the help of some commands says.
func TestHelpTexts(t *testing.T) {
	for _, tc := range []struct {
		lang  Lang
		words string
		want  []string
	}{
		{German, "gast einladen", []string{"!gast einladen RAUM VORNAME NACHNAME ORGANISATION EMAIL [bis=DATUM]", "keine E-Mail verschickt", "Englisch: `!guest invite ROOM"}},
		{English, "guest remove", []string{"!guest remove ID", "✅"}},
		{German, "gast", []string{"!gast verlaengern", "!gast liste"}},
		{German, "aufbewahrung setzen", []string{"!aufbewahrung setzen RAUM max=DAUER`", "`unbegrenzt`", "retention.bounds", "✅", "Englisch: `!retention set ROOM max=DURATION`"}},
		{English, "retention reset", []string{"!retention reset ROOM", "✅"}},
		{German, "aufbewahrung", []string{"!aufbewahrung zeigen", "!aufbewahrung setzen", "!aufbewahrung zuruecksetzen"}},
		{German, "loeschprotokoll", []string{"!loeschprotokoll [RAUM] [anzahl=N]", "nie den Inhalt", "höchstens 100"}},
		{English, "deletionlog", []string{"!deletionlog [ROOM] [count=N]", "never the content"}},
	} {
		got, err := Help(tc.lang, tc.words)
		if err != nil {
			t.Fatalf("Help(%s, %q): %v", tc.lang, tc.words, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("Help(%s, %q): got %q, want it to contain %q", tc.lang, tc.words, got, w)
			}
		}
	}
}

// TestReferenceMarksRequiredOptions checks that the reference says which
// options must be given.
func TestReferenceMarksRequiredOptions(t *testing.T) {
	if md := Markdown(); !strings.Contains(md, "| `max=DAUER` | `max=DURATION` | required: ") {
		t.Errorf("the reference does not mark max=DURATION as required")
	}
}
