package federation

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Implementation is a homeserver implementation whose federation settings
// HomeserverConfig can render.
type Implementation string

// The implementations HomeserverConfig knows.
const (
	Synapse  Implementation = "synapse"
	Dendrite Implementation = "dendrite"
)

// Title returns the implementation's name as written in prose.
func (i Implementation) Title() string {
	switch i {
	case Synapse:
		return "Synapse"
	case Dendrite:
		return "Dendrite"
	}
	return string(i)
}

// Implementations are the implementations HomeserverConfig knows, in the
// order the CLI prints their fragments.
var Implementations = []Implementation{Synapse, Dendrite}

// ParseImplementation returns the implementation named s.
func ParseImplementation(s string) (Implementation, error) {
	for _, impl := range Implementations {
		if string(impl) == s {
			return impl, nil
		}
	}
	return "", fmt.Errorf("unknown homeserver implementation %q: want synapse or dendrite", s)
}

// ErrNotListed is returned (wrapped) for a server that is not a homeserver
// of the federation list.
var ErrNotListed = errors.New("not a homeserver of the federation list")

// Enforcement is what the federation list asks of one homeserver's own
// federation settings.
type Enforcement struct {
	// Self is the homeserver.
	Self ServerName
	// Partners are the servers of the list Self federates with (each names
	// the other), sorted; Self is not among them.
	Partners []ServerName
	// External is set when external rooms on Self admit servers outside
	// the list. The homeserver can then have no allow-list, since servers
	// nobody knows in advance must reach it.
	External bool
}

// EnforcementOf returns what the list asks of the homeserver self. A
// server that is not on the list is an error wrapping ErrNotListed.
func EnforcementOf(l *List, self ServerName) (Enforcement, error) {
	if !l.Listed(self) {
		return Enforcement{}, fmt.Errorf("%s: %w (version %d)", self, ErrNotListed, l.Version)
	}
	return Enforcement{Self: self, Partners: l.Partners(self), External: l.External(self)}, nil
}

// Federates reports whether Self federates with any server at all.
func (e Enforcement) Federates() bool { return e.External || len(e.Partners) > 0 }

// AllowList returns the servers a homeserver-side allow-list must name
// (Self first, then its partners), and false when no allow-list is
// possible because Self is external.
func (e Enforcement) AllowList() ([]ServerName, bool) {
	if e.External {
		return nil, false
	}
	return append([]ServerName{e.Self}, e.Partners...), true
}

// HomeserverConfig renders the YAML fragment with the federation settings
// of homeserver self for the implementation impl, every setting explained
// by a comment. The fragment is meant to be merged into the homeserver's
// configuration file and regenerated whenever the list changes. A server
// that is not on the list is an error wrapping ErrNotListed.
func HomeserverConfig(l *List, self ServerName, impl Implementation) (string, error) {
	e, err := EnforcementOf(l, self)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s: federation settings of %s, from federation list version %d,\n", impl.Title(), self, l.Version)
	fmt.Fprintf(&b, "# issued by %s on %s,\n# valid until %s.\n", orUnknown(l.Issuer), day(l.IssuedAt), day(l.ExpiresAt))
	b.WriteString("# Made by `landesmessenger federation homeserver-config`: make it again when the list changes.\n")
	switch impl {
	case Synapse:
		writeSynapse(&b, e)
	case Dendrite:
		writeDendrite(&b, e)
	default:
		return "", fmt.Errorf("unknown homeserver implementation %q: want synapse or dendrite", impl)
	}
	return b.String(), nil
}

func writeSynapse(b *strings.Builder, e Enforcement) {
	if list, ok := e.AllowList(); ok {
		if len(e.Partners) == 0 {
			b.WriteString("# The list names no partner of this server: the allow-list names only the\n" +
				"# server itself, so it federates with no other server.\n")
		} else {
			b.WriteString("# Federate only with the server itself and its partners on the list (each names\n" +
				"# the other in federates_with). Synapse refuses federation requests from every\n" +
				"# other server and sends nothing to them.\n")
		}
		b.WriteString("federation_domain_whitelist:\n")
		for _, s := range list {
			fmt.Fprintf(b, "  - %s\n", strconv.Quote(string(s)))
		}
	} else {
		fmt.Fprintf(b, "# No federation_domain_whitelist: external rooms on %s admit servers outside\n"+
			"# the list, and those must reach it. The server ACLs Landesmessenger sets in every\n"+
			"# managed room narrow federation instead; put Landesmessenger's federation gate in\n"+
			"# front of the federation listener to also refuse the servers of the list that are\n"+
			"# not partners. Partners on the list:\n"+
			"#   %s\n", e.Self, joinNames(e.Partners))
	}
	b.WriteString("# Do not show the public room directory to other servers.\n" +
		"allow_public_rooms_over_federation: false\n" +
		"# Do not answer profile (display name, avatar) queries of other servers about\n" +
		"# users who share no room with them.\n" +
		"allow_profile_lookup_over_federation: false\n" +
		"# Do not tell other servers the names of users' devices.\n" +
		"allow_device_name_lookup_over_federation: false\n" +
		indent(directKeys, "") +
		"trusted_key_servers: []\n")
}

func writeDendrite(b *strings.Builder, e Enforcement) {
	if !e.Federates() {
		b.WriteString("# The list names no partner of this server and it admits no servers outside the\n" +
			"# list: switch federation off altogether.\n" +
			"global:\n" +
			"  disable_federation: true\n")
	} else {
		fmt.Fprintf(b, "# Dendrite v0.13.8 has no federation allow-list and cannot enforce this list:\n"+
			"# it accepts federation requests from any server that reaches its federation\n"+
			"# listener. Only the server ACLs (m.room.server_acl) Landesmessenger sets in every\n"+
			"# managed room, and m.federate: false on rooms created local-only, protect rooms.\n"+
			"# Put Landesmessenger's federation gate in front of the federation listener:\n"+
			"#   landesmessenger federation gate --server-name %s ...\n", e.Self)
		if e.External {
			b.WriteString("# The gate admits the partners on the list and, since external rooms need them,\n" +
				"# servers outside the list; it refuses the other servers of the list. Partners:\n")
		} else {
			b.WriteString("# The gate admits only the partners on the list:\n")
		}
		fmt.Fprintf(b, "#   %s\n", joinNames(e.Partners))
	}
	b.WriteString("federation_api:\n" +
		indent(directKeys, "  ") +
		"  key_perspectives: []\n")
}

// directKeys explains why a homeserver asks no notary for signing keys.
const directKeys = `# Fetch the signing keys of other servers from those servers directly and ask no
# notary (the default is matrix.org): every partner is known from the list, and
# no third party learns whom the Land's servers talk to.
`

// indent puts prefix before every line of text.
func indent(text, prefix string) string {
	if prefix == "" {
		return text
	}
	return prefix + strings.ReplaceAll(strings.TrimSuffix(text, "\n"), "\n", "\n"+prefix) + "\n"
}

func joinNames(names []ServerName) string {
	if len(names) == 0 {
		return "none"
	}
	s := make([]string, len(names))
	for i, n := range names {
		s[i] = string(n)
	}
	return strings.Join(s, ", ")
}

// orUnknown returns the issuer s on one line, fit for a YAML comment: a
// signed list is trusted, yet a line break in its issuer must not be able
// to turn the rest of the issuer into settings.
func orUnknown(s string) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f || r == 0x2028 || r == 0x2029 || r == 0x85 || r == ' ' }), " ")
	if s == "" {
		return "an unnamed issuer"
	}
	return s
}

func day(t time.Time) string { return t.UTC().Format(time.RFC3339) }
