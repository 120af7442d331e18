package command

import (
	"errors"
	"maps"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func FuzzParse(f *testing.F) {
	for _, s := range Table() {
		f.Add(s.Example[German])
		f.Add(s.Example[English])
		f.Add(Usage(s, German))
	}
	for _, body := range []string{
		"", "!", "!!", "hallo", "!föderation zeigen", `!user disable a reason="x \"y\" \\"`,
		"!benutzer sperren a grund=„so“", `!hilfe "a`, "!benutzer zeigen @a=b:c", "!audit 0009",
		"!raum anlegen hmdis x a=b klasse=extern „c d“", "!a\x00", "!benutzer\u00a0zeigen x",
	} {
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		inv, err := Parse(body)
		if err != nil {
			var ue *UsageError
			if !errors.As(err, &ue) {
				t.Fatalf("Parse(%q): error %T, want *UsageError", body, err)
			}
			if inv != nil {
				t.Fatalf("Parse(%q): invocation and error", body)
			}
			// The error quotes little of the input: it is bounded whatever
			// the input's length.
			if n := utf8.RuneCountInString(err.Error()); n > 600 {
				t.Fatalf("Parse(%q): error of %d characters: %s", body, n, err)
			}
			return
		}
		if inv == nil {
			return
		}
		if inv.Raw != strings.TrimLeftFunc(body, unicode.IsSpace) || len(inv.Raw) > MaxBodyBytes {
			t.Fatalf("Parse(%q): Raw %q", body, inv.Raw)
		}
		checkRoundTrip(t, body, inv)
	})
}

// checkRoundTrip checks that inv, parsed from body, renders in both
// languages as a message that parses to the same command, arguments and
// options, and renders the same again.
func checkRoundTrip(t *testing.T, body string, inv *Invocation) {
	t.Helper()
	for _, lang := range []Lang{German, English} {
		text := inv.render(lang)
		again, err := Parse(text)
		if err != nil || again == nil {
			t.Fatalf("Parse(%q) = %v, %v; rendered from %q", text, again, err, body)
		}
		wantLang := lang
		if sameWords(inv.Spec) {
			wantLang = German
		}
		if again.Spec != inv.Spec || again.Lang != wantLang || !maps.Equal(again.Args, inv.Args) || !maps.Equal(again.Options, inv.Options) {
			t.Fatalf("%q renders as %q, which parses to %s %s %v %v, want %s %s %v %v", body, text,
				again.Spec.Name, again.Lang, again.Args, again.Options, inv.Spec.Name, wantLang, inv.Args, inv.Options)
		}
		if again.render(lang) != text {
			t.Fatalf("%q renders as %q, then as %q", body, text, again.render(lang))
		}
	}
}
