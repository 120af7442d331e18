package command

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Parse parses a message body. A body that does not start with "!" and a
// letter (after leading white space) is chat, not a command: Parse returns
// nil, nil for it. A command that cannot be parsed gives a *UsageError, in
// the language of the command words. Where the words do not tell the
// language (status, plan, unknown words), Parse takes German; ParseLang
// takes another.
//
// Parse reads the plain body, without a reply fallback. Mentions (Element's
// pills) show a name in the plain body and carry the Matrix ID only in
// formatted_body: pass the body through ResolvePills first.
//
// Parse never panics; its work is bounded by MaxBodyBytes and MaxTokens.
func Parse(body string) (*Invocation, error) { return ParseLang(body, German) }

// ParseLang is Parse with fallback as the language where the command words
// do not tell it, such as a deployment's default language.
func ParseLang(body string, fallback Lang) (*Invocation, error) {
	if fallback != English {
		fallback = German
	}
	body = strings.TrimLeftFunc(body, unicode.IsSpace)
	if !isCommand(body) {
		return nil, nil
	}
	lang := guessLang(body[1:], fallback)
	if len(body) > MaxBodyBytes {
		return nil, &UsageError{Lang: lang, Msg: phTooLong.in(lang)}
	}
	if !utf8.ValidString(body) {
		return nil, &UsageError{Lang: lang, Msg: phBadUTF8.in(lang)}
	}
	toks, terr := tokenize(body[1:])
	if terr != nil {
		return nil, &UsageError{Lang: lang, Msg: terr.in(lang)}
	}
	texts := make([]string, len(toks))
	for i, t := range toks {
		texts[i] = t.text
	}
	m, ok := lookup(texts)
	if !ok {
		return nil, unknownError(texts, fallback, true)
	}
	if m.lang == "" {
		m.lang = fallback
	}
	inv := &Invocation{Spec: m.spec, Lang: m.lang, Args: map[string]string{}, Options: map[string]string{}, Raw: body}
	if msg := inv.bind(toks[m.n:]); msg != "" {
		return nil, &UsageError{Spec: m.spec, Lang: m.lang, Msg: msg}
	}
	return inv, nil
}

// isCommand reports whether body starts with "!" and a letter.
func isCommand(body string) bool {
	if !strings.HasPrefix(body, "!") {
		return false
	}
	r, _ := utf8.DecodeRuneInString(body[1:])
	return unicode.IsLetter(r)
}

// bind assigns the tokens after the command words to the arguments and
// options of inv.Spec. It returns what is wrong, or "".
func (inv *Invocation) bind(toks []token) string {
	s, lang := inv.Spec, inv.Lang
	pos := 0 // the next argument
	var rest []string
	for _, t := range toks {
		inRest := pos < len(s.Args) && s.Args[pos].Rest
		if key, val, ok := t.option(); ok {
			if o := s.option(key); o != nil {
				if msg := inv.setOption(o, val); msg != "" {
					return msg
				}
				continue
			}
			if !inRest {
				return unknownOption(s, key, lang)
			}
		}
		switch {
		case inRest:
			rest = append(rest, t.text)
		case pos < len(s.Args):
			if msg := inv.setArg(&s.Args[pos], t.text); msg != "" {
				return msg
			}
			pos++
		default:
			return phExtra.in(lang, code(clip(t.text, 40)))
		}
	}
	if rest != nil {
		if msg := inv.setArg(&s.Args[pos], strings.Join(rest, " ")); msg != "" {
			return msg
		}
		pos++
	}
	var missing []string
	for _, a := range s.Args[pos:] {
		if !a.Optional {
			missing = append(missing, a.placeholder(lang))
		}
	}
	for i := range s.Options {
		if o := &s.Options[i]; o.Required {
			if _, ok := inv.Options[o.KeyEN]; !ok {
				missing = append(missing, o.usage(lang))
			}
		}
	}
	switch len(missing) {
	case 0:
		return ""
	case 1:
		return phMissing.in(lang, missing[0])
	}
	return phMissingMany.in(lang, strings.Join(missing, ", "))
}

func (inv *Invocation) setArg(a *Arg, text string) string {
	v, msg := a.canon(text, inv.Lang)
	if msg != "" {
		return msg
	}
	inv.Args[a.Key()] = v
	return ""
}

func (inv *Invocation) setOption(o *Option, text string) string {
	lang := inv.Lang
	if _, dup := inv.Options[o.KeyEN]; dup {
		return phDupOption.in(lang, code(o.key(lang)))
	}
	v, msg := o.Value.canon(text, lang)
	if msg != "" {
		return msg
	}
	inv.Options[o.KeyEN] = v
	return ""
}

// option returns the option of s whose key, in either language, is key.
func (s *Spec) option(key string) *Option {
	k := fold(key)
	for i := range s.Options {
		if o := &s.Options[i]; k == o.Key || k == o.KeyEN {
			return o
		}
	}
	return nil
}

func unknownOption(s *Spec, key string, lang Lang) string {
	if len(s.Options) == 0 {
		return phNoOptions.in(lang, code(clip(key, 30)))
	}
	keys := make([]string, len(s.Options))
	for i := range s.Options {
		keys[i] = code(s.Options[i].key(lang))
	}
	return phUnknownOption.in(lang, code(clip(key, 30)), strings.Join(keys, ", "))
}

// kind says how the value of an argument is checked.
type kind int

const (
	kindText   kind = iota // any text but empty; trimmed
	kindPerson             // directory id or Matrix user ID
	kindSlug               // tenant, unit or room id of the configuration
	kindRoom               // tenant/room key, room ID or room alias
	kindCount              // 1 to maxCount
	kindChoice             // one of Arg.Values
)

const maxCount = 1000

// canon checks text as a value of a and returns its canonical form, or what
// is wrong with it.
func (a *Arg) canon(text string, lang Lang) (string, string) {
	name := a.placeholder(lang)
	if strings.TrimSpace(text) == "" {
		return "", phEmpty.in(lang, name)
	}
	v, ok := text, false
	switch a.kind {
	case kindText:
		v, ok = strings.TrimSpace(text), true
	case kindPerson:
		if strings.HasPrefix(text, "@") {
			ok = isUserID(text)
		} else {
			v = strings.ToLower(text)
			ok = isLocalpart(v)
		}
	case kindSlug:
		v = strings.ToLower(text)
		ok = isSlug(v)
	case kindRoom:
		switch text[0] {
		case '!':
			ok = isRoomID(text)
		case '#':
			ok = isAlias(text)
		default:
			v = strings.ToLower(text)
			t, r, found := strings.Cut(v, "/")
			ok = found && isSlug(t) && isSlug(r)
		}
	case kindCount:
		n, err := strconv.Atoi(text)
		if ok = len(text) <= 4 && err == nil && n >= 1 && n <= maxCount && isDigits(text); ok {
			v = strconv.Itoa(n)
		}
	case kindChoice:
		f := fold(text)
		for _, c := range a.Values {
			if f == c || f == valueDE[c] {
				v, ok = c, true
			}
		}
	}
	if !ok {
		return "", phBadValue.in(lang, code(clip(text, 40)), name, a.hint(lang))
	}
	return v, ""
}

// hint says what a valid value of a looks like.
func (a *Arg) hint(lang Lang) string {
	switch a.kind {
	case kindPerson:
		return phHintPerson.in(lang)
	case kindSlug:
		return phHintSlug.in(lang)
	case kindRoom:
		return phHintRoom.in(lang)
	case kindCount:
		return phHintCount.in(lang, maxCount)
	case kindChoice:
		return phHintChoice.in(lang, a.valueList(lang))
	}
	return ""
}

// valueList returns the allowed values of a, spelt in lang, as code.
func (a *Arg) valueList(lang Lang) string {
	vs := make([]string, len(a.Values))
	for i, v := range a.Values {
		vs[i] = code(a.display(v, lang))
	}
	return strings.Join(vs, ", ")
}

// display returns the canonical value v spelt in lang.
func (a *Arg) display(v string, lang Lang) string {
	if de, ok := valueDE[v]; ok && a.kind == kindChoice && lang == German {
		return de
	}
	return v
}

func isSlug(s string) bool {
	return s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == ""
}

// isLocalpart reports whether s is a directory id: lower-case letters,
// digits, '.', '_' and '-'.
func isLocalpart(s string) bool {
	return s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789._-") == ""
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// isUserID reports whether s looks like a Matrix user ID (@local:server).
// It is lenient on the localpart, as historical user IDs are.
func isUserID(s string) bool {
	local, server, ok := strings.Cut(strings.TrimPrefix(s, "@"), ":")
	return ok && len(s) <= 255 && s[0] == '@' && local != "" && isOpaque(local) && isServerName(server)
}

// isRoomID reports whether s looks like a room ID: "!opaque:server" or,
// from room version 12 on, "!opaque".
func isRoomID(s string) bool {
	opaque, server, hasServer := strings.Cut(s[1:], ":")
	return len(s) <= 255 && opaque != "" && isOpaque(opaque) && (!hasServer || isServerName(server))
}

// isAlias reports whether s looks like a room alias (#local:server).
func isAlias(s string) bool {
	local, server, ok := strings.Cut(s[1:], ":")
	return ok && len(s) <= 255 && local != "" && isOpaque(local) && isServerName(server)
}

// isOpaque reports whether s has only printable ASCII other than ':'.
func isOpaque(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' || s[i] == ':' {
			return false
		}
	}
	return true
}

// isServerName reports whether s looks like a server name: a host name or
// IP literal and an optional port.
func isServerName(s string) bool {
	return s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") == ""
}

// fold lower-cases s and writes umlauts and ß as ae, oe, ue and ss, the way
// the command words, option keys and values are spelt in the table.
func fold(s string) string {
	s = strings.ToLower(s)
	if !strings.ContainsAny(s, "äöüß") {
		return s
	}
	return strings.NewReplacer("ä", "ae", "ö", "oe", "ü", "ue", "ß", "ss").Replace(s)
}

// match is a command found by its words.
type match struct {
	spec *Spec
	lang Lang // "" if the words are the same in both languages
	n    int  // how many words named it
}

// index maps the folded command words of both languages to the commands;
// groups maps the first word of two-word commands to the commands that
// start with it.
var index, groups = buildIndex(specs)

func buildIndex(t []*Spec) (map[string]match, map[string][]match) {
	idx, grp := map[string]match{}, map[string][]match{}
	for _, s := range t {
		for _, lang := range []Lang{German, English} {
			ws := s.Words(lang)
			if sameWords(s) {
				lang = ""
			}
			idx[strings.Join(ws, " ")] = match{spec: s, lang: lang, n: len(ws)}
			if len(ws) == 2 {
				grp[ws[0]] = append(grp[ws[0]], match{spec: s, lang: lang, n: 2})
			}
		}
	}
	return idx, grp
}

// lookup finds the command named by the first one or two words.
func lookup(ws []string) (match, bool) {
	if len(ws) >= 2 {
		if m, ok := index[fold(clip(ws[0], 32))+" "+fold(clip(ws[1], 32))]; ok && m.n == 2 {
			return m, true
		}
	}
	if len(ws) >= 1 {
		if m, ok := index[fold(clip(ws[0], 32))]; ok && m.n == 1 {
			return m, true
		}
	}
	return match{}, false
}

// guessLang returns the language of the first word of s (a command
// without its "!"), or fallback if it does not tell.
func guessLang(s string, fallback Lang) Lang {
	w, _, _ := strings.Cut(clip(s, 32), " ")
	w = fold(w)
	if m, ok := index[w]; ok && m.lang != "" {
		return m.lang
	}
	if g, ok := groups[w]; ok {
		return g[0].lang
	}
	return fallback
}

// sameWords reports whether s has the same words in both languages.
func sameWords(s *Spec) bool { return strings.Join(s.DE, " ") == strings.Join(s.EN, " ") }
