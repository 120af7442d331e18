// Package command is the command layer of the admin bot: the table of
// commands admins type in a management room, the parser that turns a message
// into an Invocation, and the help texts and the command reference generated
// from the table. It does no I/O and knows nothing of Matrix clients; the
// handlers that carry out commands and the Matrix runtime live elsewhere.
//
// A message is a command when it starts with "!" and a letter:
//
//	!benutzer zeigen mmustermann
//	!user disable jfischer reason="left the authority"
//
// Every command has German words and English alias words. Command words,
// option keys and restricted values are case-insensitive, and umlauts may be
// written either way (föderation, foederation). The texts this package
// returns (help, usage errors) are CommonMark; user input in them is quoted
// as code and clipped.
package command

import (
	"fmt"
	"strings"
)

// Lang is the language of a reply: German or English.
type Lang string

// The languages. German is the default.
const (
	German  Lang = "de"
	English Lang = "en"
)

// Access says what a command may do, and so who may run it.
type Access int

// The access levels.
const (
	// Read commands only show state; Land admins, tenant admins and auditors
	// (such as the data-protection officer) may run them.
	Read Access = iota
	// Write commands change state; only Land admins and tenant admins may
	// run them.
	Write
)

// String returns "read" or "write".
func (a Access) String() string {
	if a == Write {
		return "write"
	}
	return "read"
}

// Confirm is a command's own confirmation policy. Whether a command also
// needs a second admin's confirmation (four eyes) is decided by the
// configuration, by the command's Spec.Name.
type Confirm int

// The confirmation policies.
const (
	// NoConfirm commands run at once.
	NoConfirm Confirm = iota
	// ConfirmIssuer commands run only after the admin who issued them
	// reacts with ✅.
	ConfirmIssuer
)

// The bounds of a command message. Longer messages, or messages with more
// words, are refused with a UsageError before any other work.
const (
	MaxBodyBytes = 4096
	MaxTokens    = 64
)

// Arg is a positional argument of a command.
type Arg struct {
	// Name and NameEN are the placeholders shown in usage lines, such as
	// KENNUNG and ID. The lower-cased NameEN is the argument's key in
	// Invocation.Args.
	Name, NameEN string
	// Optional arguments may be left out; only the last arguments of a
	// command are optional.
	Optional bool
	// Rest arguments take all remaining words of the message, joined by
	// single spaces; only the last argument may be one.
	Rest bool
	// Values are the allowed values, as spelt in the configuration, if the
	// argument is restricted. Their German spellings are accepted too.
	Values []string

	kind kind
	desc phrase
}

// Key returns the argument's key in Invocation.Args.
func (a *Arg) Key() string { return strings.ToLower(a.NameEN) }

// Option is a key=value option of a command.
type Option struct {
	// Key and KeyEN are the German and English spellings of the key, such
	// as einheit and unit. KeyEN is the option's key in Invocation.Options.
	Key, KeyEN string
	// Required options must be given; the others may be left out.
	Required bool
	// Value describes the value: its placeholder, its allowed values and
	// how it is checked.
	Value Arg

	desc phrase
}

// Spec is one command of the table. Specs are shared: callers must not
// modify them.
type Spec struct {
	// Name is the canonical id of the command, its English words joined by
	// a space ("user show"). The configuration names commands by it.
	Name string
	// DE and EN are the command words, such as benutzer zeigen and user
	// show.
	DE, EN  []string
	Args    []Arg
	Options []Option
	Access  Access
	Confirm Confirm
	// Summary is one sentence on what the command does, and Example a
	// complete command message, per language.
	Summary, Example map[Lang]string
}

// Words returns the command words in lang.
func (s *Spec) Words(lang Lang) []string {
	if lang == English {
		return s.EN
	}
	return s.DE
}

// Table returns the commands, help first. The specs are shared and must not
// be modified.
func Table() []*Spec { return append([]*Spec(nil), specs...) }

// Lookup returns the command with the canonical name, such as "user
// disable".
func Lookup(name string) (*Spec, bool) {
	for _, s := range specs {
		if s.Name == name {
			return s, true
		}
	}
	return nil, false
}

// Invocation is a parsed command.
type Invocation struct {
	Spec *Spec
	// Lang is English when the English words of the command were used,
	// otherwise German (also for commands whose words are the same in both
	// languages, such as status and plan).
	Lang Lang
	// Args holds the given arguments by Arg.Key, Options the given options
	// by Option.KeyEN. Left-out optional arguments and options are absent.
	// Values are checked and canonical: person ids, tenant, unit and room
	// ids lower-case, restricted values as spelt in the configuration,
	// counts without leading zeros, texts trimmed.
	Args    map[string]string
	Options map[string]string
	// Raw is the message as received, without leading white space.
	Raw string
}

// String returns the command as a message in the invocation's language,
// with arguments quoted where needed; parsing it gives the same invocation
// (but for Raw). Use it to show a command back, as in a confirmation
// prompt.
func (inv *Invocation) String() string { return inv.render(inv.Lang) }

// render returns the invocation as a command message in lang.
func (inv *Invocation) render(lang Lang) string {
	s := inv.Spec
	var b strings.Builder
	b.WriteString("!" + strings.Join(s.Words(lang), " "))
	for i := range s.Args {
		a := &s.Args[i]
		v, ok := inv.Args[a.Key()]
		if !ok {
			continue
		}
		if a.Rest {
			b.WriteString(" " + quoteRest(v))
		} else {
			b.WriteString(" " + quote(a.display(v, lang)))
		}
	}
	for i := range s.Options {
		o := &s.Options[i]
		if v, ok := inv.Options[o.KeyEN]; ok {
			b.WriteString(" " + o.key(lang) + "=" + quote(o.Value.display(v, lang)))
		}
	}
	return b.String()
}

// UsageError is a user-visible error: the message is no valid command. Its
// text says what is wrong and how to call the command, in Lang, and quotes
// at most about 100 characters of the input.
type UsageError struct {
	// Spec is the command, or nil if the command is unknown.
	Spec *Spec
	Lang Lang
	// Msg says what is wrong, without the usage line.
	Msg string
}

// Error returns Msg, with the command's usage line first if the command is
// known.
func (e *UsageError) Error() string {
	if e.Spec == nil {
		return e.Msg
	}
	return fmt.Sprintf("%s %s — %s", phUsage.in(e.Lang), code(Usage(e.Spec, e.Lang)), e.Msg)
}

// Usage returns the usage line of s in lang, such as
// "!benutzer zeigen KENNUNG".
func Usage(s *Spec, lang Lang) string {
	var b strings.Builder
	b.WriteString("!" + strings.Join(s.Words(lang), " "))
	for i := range s.Args {
		a := &s.Args[i]
		p := a.placeholder(lang)
		if a.Rest {
			p += "..."
		}
		if a.Optional {
			p = "[" + p + "]"
		}
		b.WriteString(" " + p)
	}
	for i := range s.Options {
		o := &s.Options[i]
		if o.Required {
			b.WriteString(" " + o.usage(lang))
		} else {
			b.WriteString(" [" + o.usage(lang) + "]")
		}
	}
	return b.String()
}

// usage returns the option as a usage line shows it, such as "max=DAUER".
func (o *Option) usage(lang Lang) string { return o.key(lang) + "=" + o.Value.placeholder(lang) }

func (a *Arg) placeholder(lang Lang) string {
	if lang == English {
		return a.NameEN
	}
	return a.Name
}

func (o *Option) key(lang Lang) string {
	if lang == English {
		return o.KeyEN
	}
	return o.Key
}
