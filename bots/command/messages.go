package command

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// phrase is a text in German and English; it may be a fmt format.
type phrase struct{ de, en string }

// in returns the phrase in lang, formatted with a if a is not empty.
func (p phrase) in(lang Lang, a ...any) string {
	s := p.de
	if lang == English {
		s = p.en
	}
	if len(a) == 0 {
		return s
	}
	return fmt.Sprintf(s, a...)
}

// The messages of usage errors. Those that follow a usage line start in
// lower case and have no final period.
var (
	phUsage   = phrase{"Aufruf:", "Usage:"}
	phTooLong = phrase{
		"Die Nachricht ist zu lang für einen Befehl: höchstens " + strconv.Itoa(MaxBodyBytes) + " Byte.",
		"The message is too long for a command: at most " + strconv.Itoa(MaxBodyBytes) + " bytes."}
	phTooManyWords = phrase{
		"Der Befehl hat zu viele Wörter: höchstens " + strconv.Itoa(MaxTokens) + ".",
		"The command has too many words: at most " + strconv.Itoa(MaxTokens) + "."}
	phBadUTF8       = phrase{"Die Nachricht ist kein gültiger Text.", "The message is no valid text."}
	phControl       = phrase{"Der Befehl enthält Steuerzeichen; die sind nicht erlaubt.", "The command contains control characters; they are not allowed."}
	phUnclosedQuote = phrase{"Ein Anführungszeichen ist nicht geschlossen.", "A quote is not closed."}
	phUnknown       = phrase{"Unbekannter Befehl %s.", "Unknown command %s."}
	phIncomplete    = phrase{"Unvollständiger Befehl %s.", "Incomplete command %s."}
	phDidYouMean    = phrase{"Vielleicht %s?", "Did you mean %s?"}
	phPossible      = phrase{"Möglich: %s.", "Possible: %s."}
	phAllCommands   = phrase{"Alle Befehle: %s", "All commands: %s"}
	phHelpFor       = phrase{"Hilfe: %s", "Help: %s"}
	phMissing       = phrase{"es fehlt: %s", "missing: %s"}
	phMissingMany   = phrase{"es fehlen: %s", "missing: %s"}
	phExtra         = phrase{"zu viel: %s", "too many arguments: %s"}
	phUnknownOption = phrase{"unbekannte Option %s; möglich: %s", "unknown option %s; possible: %s"}
	phNoOptions     = phrase{"unbekannte Option %s; der Befehl hat keine Optionen", "unknown option %s; the command has no options"}
	phDupOption     = phrase{"Option %s doppelt", "option %s given twice"}
	phEmpty         = phrase{"%s darf nicht leer sein", "%s must not be empty"}
	phBadValue      = phrase{"%s ist kein gültiger Wert für %s; %s", "%s is no valid %s; %s"}
	phHintPerson    = phrase{
		"erwartet: eine Kennung wie `mmustermann` oder eine Matrix-ID wie `@mmustermann:land.hessen.de`",
		"expected: an id like `mmustermann` or a Matrix ID like `@mmustermann:land.hessen.de`"}
	phHintSlug = phrase{
		"erlaubt sind Kleinbuchstaben, Ziffern und Bindestriche",
		"allowed are lower-case letters, digits and hyphens"}
	phHintRoom = phrase{
		"erwartet: `mandant/raum`, eine Raum-ID `!…` oder ein Alias `#…:server`",
		"expected: `tenant/room`, a room ID `!…` or an alias `#…:server`"}
	phHintCount  = phrase{"erwartet: eine Zahl von 1 bis %d", "expected: a number from 1 to %d"}
	phHintChoice = phrase{"erlaubt: %s", "allowed: %s"}
)

// maxSuggestions bounds the commands an unknown-command error names.
const maxSuggestions = 6

// unknownError says that the words ws (at least one) name no command and
// suggests the closest commands. With detect, the error is in the language
// of the suggestions where they tell it, else in lang.
func unknownError(ws []string, lang Lang, detect bool) *UsageError {
	typed := "!" + ws[0]
	cands := suggestable
	group, isGroup := groups[fold(clip(ws[0], 32))]
	if isGroup {
		cands = group
		if len(ws) > 1 {
			typed += " " + ws[1]
		}
	}
	sugg := closest(ws, cands)
	if detect {
		switch {
		case len(sugg) > 0 && sugg[0].lang != "":
			lang = sugg[0].lang
		case isGroup:
			lang = group[0].lang
		}
	}
	msg := phUnknown.in(lang, code(clip(typed, 40)))
	switch {
	case isGroup && len(ws) == 1:
		msg = phIncomplete.in(lang, code(clip(typed, 40))) + " " + phPossible.in(lang, commandList(group, lang))
	case len(sugg) > 0:
		msg += " " + phDidYouMean.in(lang, commandList(sugg, lang))
	case isGroup:
		msg += " " + phPossible.in(lang, commandList(group, lang))
	}
	help := helpSpec.Words(lang)[0]
	if isGroup {
		return &UsageError{Lang: lang, Msg: msg + " " + phHelpFor.in(lang, code("!"+help+" "+group[0].spec.Words(lang)[0]))}
	}
	return &UsageError{Lang: lang, Msg: msg + " " + phAllCommands.in(lang, code("!"+help))}
}

// suggestable lists every command once per language, German first, in
// table order, for unknownError.
var suggestable = func() []match {
	var ms []match
	for _, s := range specs {
		if sameWords(s) {
			ms = append(ms, match{spec: s})
			continue
		}
		ms = append(ms, match{spec: s, lang: German}, match{spec: s, lang: English})
	}
	return ms
}()

// helpSpec is the help command.
var helpSpec, _ = Lookup("help")

// closest returns the commands among cands whose words are closest to ws,
// if any is close enough to be a typo: each command once, in the order of
// cands.
func closest(ws []string, cands []match) []match {
	best := -1
	var out []match
	for _, m := range cands {
		want := m.spec.Words(m.lang)
		k := min(len(ws), len(want))
		typed := make([]string, k)
		for i := range typed {
			typed[i] = fold(clip(ws[i], 32))
		}
		w := strings.Join(want[:k], " ")
		d := distance(strings.Join(typed, " "), w)
		if d > tolerance(w) || (best >= 0 && d > best) {
			continue
		}
		if d < best || best < 0 {
			best, out = d, out[:0]
		}
		if !containsSpec(out, m.spec) && len(out) < maxSuggestions {
			out = append(out, m)
		}
	}
	return out
}

func containsSpec(ms []match, s *Spec) bool {
	for _, m := range ms {
		if m.spec == s {
			return true
		}
	}
	return false
}

// tolerance is the edit distance up to which a typed word is taken for a
// typo of w.
func tolerance(w string) int {
	switch n := utf8.RuneCountInString(w); {
	case n <= 4:
		return 1
	case n <= 10:
		return 2
	}
	return 3
}

// distance returns the Levenshtein distance of a and b in runes.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// commandList returns the commands' words in lang as code, comma-separated.
func commandList(ms []match, lang Lang) string {
	var out []string
	var seen []match
	for _, m := range ms {
		if containsSpec(seen, m.spec) {
			continue
		}
		seen = append(seen, m)
		out = append(out, code("!"+strings.Join(m.spec.Words(lang), " ")))
	}
	return strings.Join(out, ", ")
}

// code returns s as a CommonMark code span.
func code(s string) string {
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") ||
		(strings.HasPrefix(s, " ") && strings.HasSuffix(s, " ")) {
		s = " " + s + " "
	}
	return fence + s + fence
}

// clip returns s cut to at most n runes, marking a cut with "…".
func clip(s string, n int) string {
	if len(s) <= n || utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n-1 {
			return s[:j] + "…"
		}
		i++
	}
	return s
}
