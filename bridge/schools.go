package bridge

import (
	"errors"
	"fmt"
	"net/mail"
	"os"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// School is a school of the schools directory with the mailboxes the bridge
// may bridge: its office and, optionally, its teachers. Pupils are never in
// it.
type School struct {
	Number string
	Name   string
	City   string
	// Office is the school office's mailbox.
	Office   Mailbox
	Teachers []Mailbox
	// RequireDKIM is the school's own DKIM policy; nil follows the
	// bridge's default (bridge.inbound.require_dkim).
	RequireDKIM *bool
	// DKIMKeys pins the school's DKIM keys: selector -> key record
	// ("v=DKIM1; k=ed25519; p=..."). With pinned keys only they count;
	// without, keys are looked up in DNS.
	DKIMKeys map[string]string
}

// Mailbox is a bridged mailbox: it becomes a ghost user in the rooms of its
// school.
type Mailbox struct {
	// Address is the bare mail address, lowercase.
	Address string
	// Name is the person's name for a teacher, "" for an office.
	Name string
	// School is the school's number.
	School string
}

// GhostID returns the mailbox's ghost ID (the localpart after the bridge's
// prefix): "1234" for a school office, "1234.a.beispiel" for a teacher.
func (m Mailbox) GhostID() string {
	if m.Name == "" {
		return m.School
	}
	local, _, _ := strings.Cut(m.Address, "@")
	return m.School + "." + ghostSafe.ReplaceAllString(local, "_")
}

var ghostSafe = regexp.MustCompile(`[^a-z0-9._=-]`)

// DisplayName is the name of the mailbox's ghost: "Musterschule Kassel
// (Schule 1234)" for an office, "Anna Beispiel (Musterschule Kassel)" for a
// teacher.
func (s School) DisplayName(m Mailbox) string {
	if m.Name == "" {
		return fmt.Sprintf("%s (Schule %s)", s.Name, s.Number)
	}
	return fmt.Sprintf("%s (%s)", m.Name, s.Name)
}

// Schools is the schools directory.
type Schools struct {
	byNumber  map[string]*School
	byAddress map[string]Mailbox
}

// School returns the school with number.
func (s *Schools) School(number string) (*School, bool) {
	sc, ok := s.byNumber[number]
	return sc, ok
}

// Mailbox returns the bridged mailbox with address (any case).
func (s *Schools) Mailbox(address string) (Mailbox, bool) {
	m, ok := s.byAddress[strings.ToLower(address)]
	return m, ok
}

// Numbers returns the school numbers in order.
func (s *Schools) Numbers() []string {
	out := make([]string, 0, len(s.byNumber))
	for n := range s.byNumber {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

var (
	schoolKeys     = map[string]bool{"number": true, "name": true, "city": true, "office": true, "teachers": true, "require_dkim": true, "dkim_keys": true}
	teacherKeys    = map[string]bool{"name": true, "mailbox": true}
	pupilKeys      = map[string]bool{"pupils": true, "students": true, "schueler": true, "schüler": true}
	schoolNumberRE = regexp.MustCompile(`^[0-9]{1,8}$`)
)

// LoadSchools reads the schools directory file path. Every problem is
// reported with the file, line and field; a file with problems yields no
// directory (the bridge never runs on half of it).
func LoadSchools(path string) (*Schools, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("schools directory: %w", err)
	}
	return ParseSchools(path, data)
}

// ParseSchools parses a schools directory; name is used in errors.
func ParseSchools(name string, data []byte) (*Schools, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var errs []error
	bad := func(line int, field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s: %s", name, line, field, fmt.Sprintf(format, args...)))
	}
	out := &Schools{byNumber: map[string]*School{}, byAddress: map[string]Mailbox{}}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: want a mapping with the key schools", name)
	}
	top := root.Content[0]
	var list *yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "schools" {
			list = top.Content[i+1]
		} else {
			bad(top.Content[i].Line, top.Content[i].Value, "unknown key (want schools)")
		}
	}
	if list == nil || list.Kind != yaml.SequenceNode {
		return nil, errors.Join(append(errs, fmt.Errorf("%s: want a list under schools", name))...)
	}
	addAddress := func(line int, field string, m Mailbox) {
		if prev, dup := out.byAddress[m.Address]; dup {
			bad(line, field, "mailbox %s is already listed for school %s", m.Address, prev.School)
			return
		}
		out.byAddress[m.Address] = m
	}
	for i, item := range list.Content {
		path := fmt.Sprintf("schools[%d]", i)
		if item.Kind != yaml.MappingNode {
			bad(item.Line, path, "want a mapping")
			continue
		}
		fields := map[string]*yaml.Node{}
		for j := 0; j+1 < len(item.Content); j += 2 {
			k := item.Content[j]
			switch {
			case pupilKeys[strings.ToLower(k.Value)]:
				bad(k.Line, path+"."+k.Value, "pupils are never bridged: only the school office and teachers may be listed")
			case !schoolKeys[k.Value]:
				bad(k.Line, path+"."+k.Value, "unknown key (want number, name, city, office, teachers, require_dkim, dkim_keys)")
			default:
				fields[k.Value] = item.Content[j+1]
			}
		}
		str := func(key string, required bool) (string, int) {
			n, ok := fields[key]
			if !ok || n.Value == "" {
				if required {
					bad(item.Line, path+"."+key, "missing required field")
				}
				return "", item.Line
			}
			if n.Kind != yaml.ScalarNode {
				bad(n.Line, path+"."+key, "want a text")
				return "", n.Line
			}
			return strings.TrimSpace(n.Value), n.Line
		}
		sc := &School{}
		var line int
		sc.Number, line = str("number", true)
		if sc.Number != "" && !schoolNumberRE.MatchString(sc.Number) {
			bad(line, path+".number", "invalid school number %q (want digits)", sc.Number)
		} else if _, dup := out.byNumber[sc.Number]; dup && sc.Number != "" {
			bad(line, path+".number", "school %s is listed twice", sc.Number)
		}
		sc.Name, _ = str("name", true)
		sc.City, _ = str("city", false)
		office, line := str("office", true)
		if office != "" {
			addr, err := bareAddress(office)
			if err != nil {
				bad(line, path+".office", "%v", err)
			} else {
				sc.Office = Mailbox{Address: addr, School: sc.Number}
				addAddress(line, path+".office", sc.Office)
			}
		}
		if tl, ok := fields["teachers"]; ok {
			if tl.Kind != yaml.SequenceNode {
				bad(tl.Line, path+".teachers", "want a list")
			} else {
				for j, tn := range tl.Content {
					tpath := fmt.Sprintf("%s.teachers[%d]", path, j)
					if tn.Kind != yaml.MappingNode {
						bad(tn.Line, tpath, "want a mapping with name and mailbox")
						continue
					}
					var tname, tbox string
					for k := 0; k+1 < len(tn.Content); k += 2 {
						key, val := tn.Content[k], tn.Content[k+1]
						switch {
						case !teacherKeys[key.Value]:
							bad(key.Line, tpath+"."+key.Value, "unknown key (want name, mailbox)")
						case key.Value == "name":
							tname = strings.TrimSpace(val.Value)
						default:
							tbox = strings.TrimSpace(val.Value)
						}
					}
					if tname == "" || tbox == "" {
						bad(tn.Line, tpath, "name and mailbox are required")
						continue
					}
					addr, err := bareAddress(tbox)
					if err != nil {
						bad(tn.Line, tpath+".mailbox", "%v", err)
						continue
					}
					m := Mailbox{Address: addr, Name: tname, School: sc.Number}
					sc.Teachers = append(sc.Teachers, m)
					addAddress(tn.Line, tpath+".mailbox", m)
				}
			}
		}
		if n, ok := fields["require_dkim"]; ok {
			var v bool
			if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&v) != nil {
				bad(n.Line, path+".require_dkim", "expected true or false, got %q", n.Value)
			} else {
				sc.RequireDKIM = &v
			}
		}
		if n, ok := fields["dkim_keys"]; ok {
			if n.Kind != yaml.MappingNode {
				bad(n.Line, path+".dkim_keys", "want a mapping of selector to key record, e.g. sel1: \"v=DKIM1; k=ed25519; p=...\"")
			} else {
				sc.DKIMKeys = map[string]string{}
				for k := 0; k+1 < len(n.Content); k += 2 {
					sel, rec := n.Content[k], n.Content[k+1]
					kpath := path + ".dkim_keys." + sel.Value
					if !dkimSelectorRE.MatchString(sel.Value) {
						bad(sel.Line, kpath, "invalid selector %q (want letters, digits, '-' and '.')", sel.Value)
						continue
					}
					if msg := dkimRecordProblem(rec.Value); rec.Kind != yaml.ScalarNode || msg != "" {
						bad(rec.Line, kpath, "invalid key record: %s", msg)
						continue
					}
					sc.DKIMKeys[sel.Value] = rec.Value
				}
			}
		}
		if sc.Number != "" {
			out.byNumber[sc.Number] = sc
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

var dkimSelectorRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,62})$`)

// dkimRecordProblem checks a pinned DKIM key record and returns what is
// wrong with it, or "".
func dkimRecordProblem(rec string) string {
	tags := map[string]string{}
	for _, part := range strings.Split(rec, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok && strings.TrimSpace(part) != "" {
			return fmt.Sprintf("tag %q has no value", strings.TrimSpace(part))
		}
		tags[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	if v, ok := tags["v"]; ok && v != "DKIM1" {
		return fmt.Sprintf("v=%s (want DKIM1)", v)
	}
	if k, ok := tags["k"]; ok && k != "rsa" && k != "ed25519" {
		return fmt.Sprintf("k=%s (want rsa or ed25519)", k)
	}
	if tags["p"] == "" {
		return "no public key (p=)"
	}
	return ""
}

// Domains returns the mail domains of the school's mailboxes.
func (s *School) Domains() []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range append([]Mailbox{s.Office}, s.Teachers...) {
		_, d, _ := strings.Cut(m.Address, "@")
		if d != "" && !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// bareAddress checks that s is one plain mail address and returns it in
// lowercase.
func bareAddress(s string) (string, error) {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s || !strings.Contains(a.Address, "@") {
		return "", fmt.Errorf("invalid mailbox %q (want a plain address such as poststelle@1234.schulen.hessen.de)", s)
	}
	return strings.ToLower(a.Address), nil
}
