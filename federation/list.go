// Package federation is the Land's federation list: a JSON document, signed
// with Ed25519 by the Land's IT authority, that names the homeservers of the
// Land and which of them may federate with which. Landesmessenger derives
// the server ACL of every managed room from it, the homeservers' own
// federation settings (HomeserverConfig), and the federation gate in front
// of homeservers that cannot enforce an allow-list themselves (Gate).
//
// The list only ever narrows what the configuration asks for: two servers
// may share a room only if each names the other.
package federation

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"
	"time"
)

// ServerName is a Matrix server name: a host name or IP literal with an
// optional port ("land.hessen.de", "127.0.0.1:8448").
type ServerName string

// Host returns the server name without its port; server ACLs match hosts.
func (s ServerName) Host() string {
	if h, _, err := net.SplitHostPort(string(s)); err == nil {
		return h
	}
	return string(s)
}

// List is a federation list.
type List struct {
	// Version grows with every list the authority issues; a list with a
	// lower version than one accepted before is refused (no rollback).
	Version int64 `json:"version"`
	// Issuer names the authority, e.g. "HZD, IT-Sicherheit".
	Issuer    string    `json:"issuer,omitempty"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// Homeservers are the homeservers of the Land.
	Homeservers []Entry `json:"homeservers"`
}

// Entry is one homeserver of the list.
type Entry struct {
	ServerName ServerName `json:"server_name"`
	// Name is the homeserver's name in the Landesmessenger configuration
	// ("land"); optional.
	Name string `json:"name,omitempty"`
	// Tenant says whose homeserver it is, e.g. "polizei".
	Tenant string `json:"tenant"`
	// FederatesWith are the servers of the list it may federate with. Two
	// servers federate only if each names the other.
	FederatesWith []ServerName `json:"federates_with"`
	// External allows rooms of class external on this homeserver to admit
	// servers outside the list (timber buyers, contractors). Servers of the
	// list it does not federate with stay denied even then.
	External bool `json:"external,omitempty"`
}

// Entry returns the entry of server s.
func (l *List) Entry(s ServerName) (*Entry, bool) {
	for i := range l.Homeservers {
		if l.Homeservers[i].ServerName == s {
			return &l.Homeservers[i], true
		}
	}
	return nil, false
}

// Listed reports whether s is a homeserver of the list.
func (l *List) Listed(s ServerName) bool {
	_, ok := l.Entry(s)
	return ok
}

// Allowed reports whether servers a and b may federate: both are on the
// list and each names the other. A server is always allowed with itself,
// even if it is not on the list.
func (l *List) Allowed(a, b ServerName) bool {
	if a == b {
		return true
	}
	ea, ok := l.Entry(a)
	if !ok {
		return false
	}
	eb, ok := l.Entry(b)
	if !ok {
		return false
	}
	return contains(ea.FederatesWith, b) && contains(eb.FederatesWith, a)
}

// External reports whether external rooms on s may admit servers outside
// the list.
func (l *List) External(s ServerName) bool {
	e, ok := l.Entry(s)
	return ok && e.External
}

// Servers returns every server name of the list, sorted.
func (l *List) Servers() []ServerName {
	out := make([]ServerName, len(l.Homeservers))
	for i, e := range l.Homeservers {
		out[i] = e.ServerName
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Partners returns the servers s may federate with (not s itself), sorted.
func (l *List) Partners(s ServerName) []ServerName {
	var out []ServerName
	for _, o := range l.Servers() {
		if o != s && l.Allowed(s, o) {
			out = append(out, o)
		}
	}
	return out
}

func contains(list []ServerName, s ServerName) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// serverNameRE is a loose check of a server name: a host name, an IPv4
// literal or a bracketed IPv6 literal, with an optional port.
var serverNameRE = regexp.MustCompile(`^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(:[0-9]{1,5})?$`)

// Validate checks the list's content: every problem, each naming the field.
func (l *List) Validate() []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if l.Version <= 0 {
		add("version: must be a positive integer")
	}
	if l.IssuedAt.IsZero() {
		add("issued_at: missing (RFC 3339 time, e.g. 2026-11-27T08:00:00Z)")
	}
	if l.ExpiresAt.IsZero() {
		add("expires_at: missing (RFC 3339 time, e.g. 2027-02-27T08:00:00Z)")
	} else if !l.IssuedAt.IsZero() && !l.ExpiresAt.After(l.IssuedAt) {
		add("expires_at: must be after issued_at")
	}
	if len(l.Homeservers) == 0 {
		add("homeservers: the list names no homeserver")
	}
	seen := map[ServerName]int{}
	for i, e := range l.Homeservers {
		f := fmt.Sprintf("homeservers[%d]", i)
		if e.ServerName == "" {
			add("%s.server_name: missing", f)
		} else if !serverNameRE.MatchString(string(e.ServerName)) {
			add("%s.server_name: %q is not a server name", f, e.ServerName)
		} else if j, dup := seen[e.ServerName]; dup {
			add("%s.server_name: %s is listed twice (also homeservers[%d])", f, e.ServerName, j)
		} else {
			seen[e.ServerName] = i
		}
		if strings.TrimSpace(e.Tenant) == "" {
			add("%s.tenant: missing", f)
		}
	}
	for i, e := range l.Homeservers {
		for j, o := range e.FederatesWith {
			f := fmt.Sprintf("homeservers[%d].federates_with[%d]", i, j)
			switch {
			case o == e.ServerName:
				add("%s: %s names itself", f, o)
			case !l.Listed(o):
				add("%s: %s is not a homeserver of the list", f, o)
			default:
				other, _ := l.Entry(o)
				if !contains(other.FederatesWith, e.ServerName) {
					add("%s: %s names %s, but %s does not name %s (federation is mutual: name both ways)", f, e.ServerName, o, o, e.ServerName)
				}
			}
		}
	}
	return p
}

// decodeList decodes the list fields of a document strictly: unknown fields
// are errors, so a misspelt field cannot silently widen or narrow access.
func decodeList(body []byte) (*List, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var doc struct {
		List
		Signatures json.RawMessage `json:"signatures,omitempty"`
	}
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("data after the list's JSON object")
	}
	return &doc.List, nil
}
