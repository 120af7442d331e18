package command

import (
	"strings"
)

// The texts of the help.
var (
	phOverviewTitle = phrase{
		"**Befehle des Admin-Bots.** Jeder Befehl beginnt mit `!`; die englischen Befehle gehen auch (`!help`).",
		"**Commands of the admin bot.** Every command starts with `!`; the German commands work too (`!hilfe`)."}
	phRead         = phrase{"**Lesen**", "**Read**"}
	phWrite        = phrase{"**Ändern**", "**Change**"}
	phOverviewFoot = phrase{
		"✅: Der Befehl wird erst ausgeführt, wenn ihn der Auslöser mit einer ✅-Reaktion bestätigt. " +
			"Die Konfiguration kann für Befehle auch die ✅ eines zweiten Admins verlangen (Vier-Augen-Prinzip). " +
			"Mehr zu einem Befehl: `!hilfe benutzer anlegen`",
		"✅: the command runs only after its issuer confirms it with a ✅ reaction. " +
			"The configuration may also require a second admin's ✅ for commands (four eyes). " +
			"More on one command: `!help user add`"}
	phAccessRead   = phrase{"Zugriff: lesend (Admins und Prüfer).", "Access: read (admins and auditors)."}
	phAccessWrite  = phrase{"Zugriff: ändernd (Land- und Mandanten-Admins).", "Access: write (Land and tenant admins)."}
	phConfirmYours = phrase{
		"Bestätigung: ✅-Reaktion des Auslösers auf die Rückfrage.",
		"Confirmation: the issuer's ✅ reaction to the bot's question."}
	phConfirmNone = phrase{
		"Bestätigung: keine, außer die Konfiguration verlangt vier Augen.",
		"Confirmation: none, unless the configuration requires four eyes."}
	phOtherLang = phrase{"Englisch: %s", "German: %s"}
	phExample   = phrase{"Beispiel: %s", "Example: %s"}
	phAllowed   = phrase{"erlaubt: %s", "allowed: %s"}
)

// Help returns the help in lang: with no words the overview of all
// commands, grouped into reading and changing ones; with words the help of
// the command they name (its usage, summary, arguments and options, access,
// whether it needs a ✅ and an example), or of the commands that start with
// a word such as "benutzer". Words may be given one by one or in one
// string, with or without "!", in either language; words after a command's
// words are ignored. If the words name no command, Help returns a
// *UsageError that suggests the closest commands.
func Help(lang Lang, words ...string) (string, error) {
	if lang != English {
		lang = German
	}
	var ws []string
	for _, w := range words {
		for _, f := range strings.Fields(w) {
			if len(ws) < MaxTokens {
				ws = append(ws, strings.TrimPrefix(f, "!"))
			}
		}
	}
	if len(ws) == 0 {
		return overview(lang), nil
	}
	if m, ok := lookup(ws); ok {
		return commandHelp(m.spec, lang), nil
	}
	if g, ok := groups[fold(clip(ws[0], 32))]; ok && len(ws) == 1 {
		return "**" + code("!"+g[0].spec.Words(lang)[0]) + "**\n\n" + summaryList(g, lang), nil
	}
	return "", unknownError(ws, lang, false)
}

func overview(lang Lang) string {
	var read, write []match
	for _, s := range specs {
		if s.Access == Read {
			read = append(read, match{spec: s})
		} else {
			write = append(write, match{spec: s})
		}
	}
	return strings.Join([]string{
		phOverviewTitle.in(lang),
		phRead.in(lang), summaryList(read, lang),
		phWrite.in(lang), summaryList(write, lang),
		phOverviewFoot.in(lang),
	}, "\n\n")
}

// summaryList returns a Markdown list of the commands' usage lines and
// summaries.
func summaryList(ms []match, lang Lang) string {
	var b strings.Builder
	for i, m := range ms {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("- " + code(Usage(m.spec, lang)))
		if m.spec.Confirm == ConfirmIssuer {
			b.WriteString(" ✅")
		}
		b.WriteString(": " + m.spec.Summary[lang])
	}
	return b.String()
}

func commandHelp(s *Spec, lang Lang) string {
	parts := []string{"**" + code(Usage(s, lang)) + "**", s.Summary[lang]}
	if params := paramList(s, lang); params != "" {
		parts = append(parts, params)
	}
	access := phAccessRead.in(lang)
	if s.Access == Write {
		access = phAccessWrite.in(lang)
		if s.Confirm == ConfirmIssuer {
			access += " " + phConfirmYours.in(lang)
		} else {
			access += " " + phConfirmNone.in(lang)
		}
	}
	parts = append(parts, access)
	if !sameWords(s) {
		other := English
		if lang == English {
			other = German
		}
		parts = append(parts, phOtherLang.in(lang, code(Usage(s, other))))
	}
	parts = append(parts, phExample.in(lang, code(s.Example[lang])))
	return strings.Join(parts, "\n\n")
}

// paramList returns a Markdown list of the arguments and options of s.
func paramList(s *Spec, lang Lang) string {
	var lines []string
	for i := range s.Args {
		a := &s.Args[i]
		lines = append(lines, "- "+code(a.placeholder(lang))+": "+a.describe(a.desc, lang))
	}
	for i := range s.Options {
		o := &s.Options[i]
		lines = append(lines, "- "+code(o.usage(lang))+": "+o.Value.describe(o.desc, lang))
	}
	return strings.Join(lines, "\n")
}

// describe returns desc in lang, followed by the allowed values of a.
func (a *Arg) describe(desc phrase, lang Lang) string {
	if len(a.Values) == 0 {
		return desc.in(lang)
	}
	return desc.in(lang) + "; " + phAllowed.in(lang, a.valueList(lang))
}

// Markdown returns the command reference in English Markdown, as it stands
// in docs/admin-bot.md: a table of all commands, then a section for each.
func Markdown() string {
	var b strings.Builder
	b.WriteString("| German | English | Access | Confirmation |\n|---|---|---|---|\n")
	for _, s := range specs {
		confirm := "–"
		if s.Confirm == ConfirmIssuer {
			confirm = "issuer's ✅"
		}
		b.WriteString("| " + code(Usage(s, German)) + " | " + code(Usage(s, English)) + " | " +
			s.Access.String() + " | " + confirm + " |\n")
	}
	for _, s := range specs {
		b.WriteString("\n### " + code("!"+strings.Join(s.DE, " ")))
		if !sameWords(s) {
			b.WriteString(" / " + code("!"+strings.Join(s.EN, " ")))
		}
		b.WriteString("\n\n" + s.Summary[English] + "\n\n")
		b.WriteString("- German: " + code(Usage(s, German)) + "\n")
		b.WriteString("- English: " + code(Usage(s, English)) + "\n")
		b.WriteString("- Access: " + s.Access.String())
		if s.Confirm == ConfirmIssuer {
			b.WriteString("; needs the issuer's ✅")
		}
		b.WriteString("\n- Canonical name: " + code(s.Name) + "\n")
		b.WriteString("- Examples: " + code(s.Example[German]))
		if s.Example[English] != s.Example[German] {
			b.WriteString(", " + code(s.Example[English]))
		}
		b.WriteString("\n")
		if len(s.Args)+len(s.Options) > 0 {
			b.WriteString("\n| German | English | Meaning |\n|---|---|---|\n")
			for i := range s.Args {
				a := &s.Args[i]
				b.WriteString("| " + code(a.Name) + " | " + code(a.NameEN) + " | " + a.referenceText(a.desc) + " |\n")
			}
			for i := range s.Options {
				o := &s.Options[i]
				text := o.Value.referenceText(o.desc)
				if o.Required {
					text = "required: " + text
				}
				b.WriteString("| " + code(o.usage(German)) + " | " + code(o.usage(English)) + " | " + text + " |\n")
			}
		}
	}
	return b.String()
}

// referenceText describes a in the reference, with its values in both
// spellings.
func (a *Arg) referenceText(desc phrase) string {
	text := desc.in(English)
	if a.Optional {
		text = "optional: " + text
	}
	if a.Rest {
		text += " (takes the remaining words)"
	}
	if len(a.Values) == 0 {
		return text
	}
	vs := make([]string, len(a.Values))
	for i, v := range a.Values {
		vs[i] = code(v)
		if de, ok := valueDE[v]; ok {
			vs[i] += " (German " + code(de) + ")"
		}
	}
	return text + "; values: " + strings.Join(vs, ", ")
}
