package command

import (
	"strings"
	"testing"
)

func TestGuestHelp(t *testing.T) {
	for _, tc := range []struct {
		lang  Lang
		words string
		want  []string
	}{
		{German, "gast einladen", []string{"!gast einladen RAUM VORNAME NACHNAME ORGANISATION EMAIL [bis=DATUM]", "keine E-Mail verschickt", "Englisch: `!guest invite ROOM"}},
		{English, "guest remove", []string{"!guest remove ID", "✅"}},
		{German, "gast", []string{"!gast verlaengern", "!gast liste"}},
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
