package command

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// token is a word of a command message.
type token struct {
	text string
	// eq is the byte offset in text of the first '=' that comes before any
	// quoted or escaped part, or -1: the token is an option if the text
	// before it is a key.
	eq int
}

// option splits an option token into key and value. Only a token whose
// key is unquoted and made of letters is an option.
func (t token) option() (key, value string, ok bool) {
	if t.eq <= 0 {
		return "", "", false
	}
	key = t.text[:t.eq]
	for _, r := range key {
		if !unicode.IsLetter(r) {
			return "", "", false
		}
	}
	return key, t.text[t.eq+1:], true
}

// Quotes: "…", the German „…“ and the English “…”. A typographic quote is
// ended by any closing quote, as autocorrection mixes them up; a plain one
// only by a plain one, so that "sagt „ja“" keeps its inner quotes.
func isQuote(r rune) bool { return r == '"' || r == '„' || r == '“' || r == '”' }

func closes(open, r rune) bool {
	return r == '"' || (open != '"' && (r == '“' || r == '”'))
}

// forbidden reports whether r may not stand in an argument: control
// characters (white space outside quotes separates words instead) and the
// invisible bidirectional controls that make text read other than it is.
func forbidden(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
}

// tokenize splits s into words. White space separates words outside
// quotes; quotes group words and may start or end within a word
// (grund="zwei Wörter"); a backslash before a quote or a backslash stands
// for that character, any other backslash for itself. s must be valid UTF-8.
func tokenize(s string) ([]token, *phrase) {
	var (
		toks    []token
		b       strings.Builder
		started bool // a word is being read
		open    rune // the opening quote, inside quotes; else 0
		plain   = true
		eq      = -1
	)
	flush := func() bool {
		if !started {
			return true
		}
		if len(toks) == MaxTokens {
			return false
		}
		toks = append(toks, token{text: b.String(), eq: eq})
		b.Reset()
		started, plain, eq = false, true, -1
		return true
	}
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		switch {
		case r == '\\' && i < len(s):
			next, n := utf8.DecodeRuneInString(s[i:])
			if isQuote(next) || next == '\\' {
				i += n
				r, plain = next, false
			}
			b.WriteRune(r)
			started = true
		case open != 0 && closes(open, r):
			open = 0
		case open == 0 && isQuote(r):
			open, started, plain = r, true, false
		case open == 0 && unicode.IsSpace(r):
			if !flush() {
				return nil, &phTooManyWords
			}
		case forbidden(r):
			return nil, &phControl
		default:
			if r == '=' && plain && eq < 0 {
				eq = b.Len()
			}
			b.WriteRune(r)
			started = true
		}
	}
	if open != 0 {
		return nil, &phUnclosedQuote
	}
	if !flush() {
		return nil, &phTooManyWords
	}
	return toks, nil
}

// quote returns s as one word of a command message: as it is if that
// parses back to s, otherwise in quotes with quotes and backslashes
// escaped.
func quote(s string) string {
	if bare(s) {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if isQuote(r) || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// quoteRest returns s as the last words of a command message, for a rest
// argument: as it is if its words parse back to s, otherwise quoted.
func quoteRest(s string) string {
	for _, w := range strings.Split(s, " ") {
		if !bare(w) {
			return quote(s)
		}
	}
	return s
}

// bare reports whether s reads back as one word without quotes.
func bare(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if isQuote(r) || r == '\\' || r == '=' || unicode.IsSpace(r) || forbidden(r) {
			return false
		}
	}
	return true
}
