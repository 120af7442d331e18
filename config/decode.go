package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The known keys of each mapping in the configuration.
var (
	configKeys         = []string{"stack_dir", "database", "log", "homeservers", "tenants", "rooms", "directory", "provisioning", "federation", "admin", "onboarding", "offboarding", "externals", "retention", "records", "bridge"}
	databaseKeys       = []string{"uri", "pickle_key_file"}
	logKeys            = []string{"level", "format"}
	homeserverKeys     = []string{"name", "description", "server_name", "client_url", "insecure", "registration_shared_secret_file", "appservice_token_file", "service_account"}
	serviceAccountKeys = []string{"localpart", "password_file", "access_token_file"}
	tenantKeys         = []string{"id", "name", "kind", "homeserver", "short_name", "units", "rooms"}
	unitKeys           = []string{"id", "name"}
	// roomKeys are the keys of tenant rooms and cross-tenant rooms;
	// tenantRoomOnly and crossRoomOnly are allowed in one kind only.
	roomKeys         = []string{"id", "name", "topic", "class", "audience", "units", "history_visibility", "host", "tenants"}
	tenantRoomOnly   = []string{"units"}
	crossRoomOnly    = []string{"host", "tenants"}
	directoryKeys    = []string{"type", "path", "url", "start_tls", "ca_file", "insecure", "bind_dn", "bind_password_file", "base_dn", "filter", "attributes", "member_attribute", "groups", "timeout"}
	fileSourceOnly   = []string{"path"}
	ldapSourceOnly   = []string{"url", "start_tls", "ca_file", "insecure", "bind_dn", "bind_password_file", "base_dn", "filter", "attributes", "member_attribute", "groups", "timeout"}
	groupKeys        = []string{"dn", "tenant", "unit", "role"}
	provisioningKeys = []string{"interval", "max_removal_share", "deactivate_removed", "credentials_file", "concurrency", "room_version"}
	federationKeys   = []string{"list", "public_key_files", "refresh"}
)

var (
	// nameRE matches homeserver names and tenant ids.
	nameRE = regexp.MustCompile(`^[a-z0-9-]+$`)
	// localpartRE matches Matrix user ID localparts.
	localpartRE = regexp.MustCompile(`^[a-z0-9._=/+-]+$`)
	// dnsNameRE matches the DNS name form of a Matrix server name.
	dnsNameRE = regexp.MustCompile(`^[A-Za-z0-9.-]{1,255}$`)
	// yamlLineRE matches the location prefix of yaml.v3 error messages.
	yamlLineRE = regexp.MustCompile(`^line (\d+): `)
)

// maxMergeDepth bounds nested YAML merge keys ("<<").
const maxMergeDepth = 8

// parse implements Parse with lookup as the environment.
func parse(path string, data []byte, lookup func(string) (string, bool)) (*Config, error) {
	file := path
	if file == "" {
		file = "<input>"
	}
	expanded, envProblems := expandEnv(data, lookup)

	// A YAML syntax error does not stop the analysis: the offending lines
	// are patched and the rest of the file is validated, leaving out
	// problems that may follow from the patched lines.
	rec := newRecovery(file, expanded)
	rec.score = func(docs []*yaml.Node) int {
		// Count all problems, follow-ups included: a patch that merges
		// or breaks up structures causes more of them.
		d := newDecoder(file)
		var root *yaml.Node
		if len(docs) > 0 {
			root = docs[0]
		}
		d.config(root, &Config{})
		score := 0
		for _, p := range d.problems {
			if !rec.patched(p.Line) {
				score++
			}
		}
		return score
	}
	docs, ok := rec.run()
	cfg := &Config{Path: path}
	d := newDecoder(file)
	d.problems = append(d.problems, rec.problems...)
	if ok {
		d.check(docs, rec, cfg)
	}

	// Attribute environment problems to the field on their line and drop
	// follow-up problems of that field (e.g. "missing required field"
	// after an unset variable expanded to nothing).
	type lineField struct {
		line  int
		field string
	}
	envFields := map[lineField]bool{}
	var problems []Problem
	for _, p := range envProblems {
		field, ok := d.paths[p.line]
		if !ok {
			field = "env"
		}
		envFields[lineField{p.line, field}] = true
		problems = append(problems, Problem{File: file, Line: p.line, Field: field, Msg: p.msg})
	}
	for _, p := range d.problems {
		if envFields[lineField{p.Line, p.Field}] && p.Msg != msgUnknownField {
			continue
		}
		problems = append(problems, p)
	}
	if len(problems) > 0 {
		sortProblems(problems)
		return nil, &ValidationError{Problems: problems}
	}
	return cfg, nil
}

// newDecoder returns a decoder for file.
func newDecoder(file string) *decoder {
	return &decoder{
		file:         file,
		paths:        map[int]string{},
		lines:        map[string]int{},
		unitsDamaged: map[TenantID]bool{},
	}
}

// check decodes and validates the documents recovered by rec into cfg.
// Problems that may follow from lines patched by rec are left out.
func (d *decoder) check(docs []*yaml.Node, rec *recovery, cfg *Config) {
	first := len(d.problems)
	limit := 0
	if len(docs) > 1 {
		limit = docs[1].Line
		d.addf(docs[1].Line, "yaml", "multiple YAML documents are not supported")
	}
	var root *yaml.Node
	if len(docs) > 0 {
		root = docs[0]
	}
	d.damage = rec.damage(root, limit)
	d.config(root, cfg)

	// Of the problems on a patched line, only those about its key are
	// certain, and only if the key was left in place.
	kept := d.problems[:first]
	for _, p := range d.problems[first:] {
		if rec.patched(p.Line) && p.Field != "yaml" && (!isKeyProblem(p.Msg) || rec.reindented[p.Line-1]) {
			continue
		}
		kept = append(kept, p)
	}
	d.problems = kept
}

// parseDocuments parses all YAML documents in data.
func parseDocuments(data []byte) (docs []*yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: internal parser error: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return docs, err
		}
		docs = append(docs, &n)
	}
}

// splitYAMLError returns the message of a yaml.v3 parser error without its
// "yaml: " and "line N: " prefixes, and the line it names (0 if none).
func splitYAMLError(err error) (string, int) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return msg[len(m[0]):], line
	}
	return msg, 0
}

// syntaxProblem turns a YAML syntax error into a problem. yaml.v3 often
// reports the line where the enclosing block starts rather than the line
// of the error, so the line is narrowed down to the shortest prefix of the
// file that fails with the same message. Prefixes are probed by galloping
// forward from the reported line and then bisecting, so this takes a
// logarithmic number of parses, each done with parse.
func syntaxProblem(file string, data []byte, err error, parse func([]byte) ([]*yaml.Node, error)) Problem {
	msg, line := splitYAMLError(err)
	lines := bytes.SplitAfter(data, []byte("\n"))
	total := len(lines)
	fails := func(n int) bool {
		if n >= total {
			return true // the whole file fails with msg
		}
		_, perr := parse(bytes.Join(lines[:n], nil))
		if perr == nil {
			return false
		}
		pmsg, _ := splitYAMLError(perr)
		return pmsg == msg
	}
	lo := min(max(line, 1), total) - 1 // assumed to parse
	hi := lo + 1
	for step := 1; hi < total && !fails(hi); step *= 2 {
		lo, hi = hi, hi+step
	}
	hi = min(hi, total)
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return Problem{File: file, Line: max(hi, 1), Field: "yaml", Msg: msg}
}

// Problem messages that are matched on.
const (
	msgUnknownField = "unknown field"
	msgDuplicate    = "duplicate field"
	msgMissing      = "missing required field"
	msgEmpty        = "must not be empty"
)

// isKeyProblem reports whether msg is about a mapping key rather than its
// value.
func isKeyProblem(msg string) bool {
	return msg == msgUnknownField || strings.HasPrefix(msg, msgDuplicate+" ")
}

// decoder walks the YAML node tree of a configuration, collecting problems.
type decoder struct {
	file     string
	problems []Problem
	// paths maps a line to the path of the first field on it.
	paths map[int]string
	// lines maps a field path to the line of its value.
	lines map[string]int
	// damage describes the lines patched by the recovery from syntax
	// errors. Missing fields, empty lists, wrong types and duplicate
	// fields are not reported where they may follow from the patches.
	damage damage
	// homeserversDamaged is set if the recovery may have lost a
	// homeserver, so that unknown homeservers of tenants are not
	// reported.
	homeserversDamaged bool
	// tenantsDamaged is set if the recovery may have lost a tenant, so
	// that unknown tenants are not reported.
	tenantsDamaged bool
	// unitsDamaged holds the tenants that may have lost a unit to the
	// recovery, so that their unknown units are not reported.
	unitsDamaged map[TenantID]bool
}

// addf records a problem.
func (d *decoder) addf(line int, field, format string, args ...any) {
	d.problems = append(d.problems, Problem{File: d.file, Line: max(line, 1), Field: field, Msg: fmt.Sprintf(format, args...)})
}

// entry is a key and value of a YAML mapping.
type entry struct {
	key, value *yaml.Node
}

// mapping holds the known entries of a YAML mapping by key, and the line
// of the mapping itself.
type mapping struct {
	path    string
	line    int
	entries map[string]entry
	// damaged is set if the mapping lost lines to syntax error recovery.
	damaged bool
}

// has reports whether the mapping has a non-null value for key.
func (m mapping) has(key string) bool {
	e, ok := m.entries[key]
	return ok && !isNull(e.value)
}

// join appends the field name to path.
func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// resolve follows aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// isNull reports whether n is missing or a YAML null.
func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || n.Kind == 0 || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names the type of node n for problems.
func describe(n *yaml.Node) string {
	n = resolve(n)
	switch {
	case n == nil:
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!int", "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!null":
			return "null"
		default:
			return "a string"
		}
	default:
		return "a " + n.ShortTag()
	}
}

// mapping decodes the YAML mapping n at path. Unknown and duplicate keys
// and wrong types are reported, unless they may follow from lines patched
// by the recovery from syntax errors. A missing or null n is an empty
// mapping at line parentLine.
func (d *decoder) mapping(n *yaml.Node, path string, parentLine int, known []string) mapping {
	m := mapping{path: path, line: parentLine, entries: map[string]entry{}, damaged: d.damage.containers[resolve(n)]}
	if n != nil && n.Line > 0 {
		m.line = n.Line
	}
	if isNull(n) {
		return m
	}
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		if len(d.damage.lostIn(n.Line, n)) > 0 || d.damage.patched[parentLine] {
			m.damaged = true // it may have been a mapping
			return m
		}
		field := path
		if field == "" {
			field = "config"
		}
		d.addf(n.Line, field, "expected a mapping, got %s", describe(n))
		return m
	}
	d.mergeInto(m, n, known, 0, true)
	return m
}

// mergeInto adds the entries of mapping node n to m. Keys already in m are
// duplicates if explicit, and are overridden silently when merged with "<<".
func (d *decoder) mergeInto(m mapping, n *yaml.Node, known []string, depth int, explicit bool) {
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := resolve(n.Content[i]), n.Content[i+1]
		if key.Kind == yaml.ScalarNode && key.ShortTag() == "!!merge" {
			merges = append(merges, value)
			continue
		}
		if key.Kind != yaml.ScalarNode {
			d.addf(key.Line, m.path, "expected a field name, got %s", describe(key))
			continue
		}
		field := join(m.path, key.Value)
		if _, ok := d.paths[key.Line]; !ok {
			d.paths[key.Line] = field
		}
		if !contains(known, key.Value) {
			d.addf(key.Line, field, msgUnknownField)
			continue
		}
		if prev, ok := m.entries[key.Value]; ok {
			if explicit && !m.damaged {
				d.addf(key.Line, field, "%s (first defined at line %d)", msgDuplicate, prev.key.Line)
			}
			continue
		}
		m.entries[key.Value] = entry{key: key, value: value}
	}
	for _, merge := range merges {
		if depth >= maxMergeDepth {
			d.addf(merge.Line, m.path, "merge keys nested too deeply")
			continue
		}
		merge = resolve(merge)
		var sources []*yaml.Node
		switch merge.Kind {
		case yaml.MappingNode:
			sources = []*yaml.Node{merge}
		case yaml.SequenceNode:
			for _, s := range merge.Content {
				sources = append(sources, resolve(s))
			}
		}
		for _, s := range sources {
			if s == nil || s.Kind != yaml.MappingNode {
				d.addf(merge.Line, join(m.path, "<<"), "expected a mapping or a list of mappings to merge, got %s", describe(s))
				continue
			}
			d.mergeInto(m, s, known, depth+1, false)
		}
	}
}

// contains reports whether list contains s.
func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// str decodes the string field key of m. Any scalar is accepted; null and
// missing fields are "". Other values are reported unless lines patched by
// the recovery from syntax errors may have changed them.
func (d *decoder) str(m mapping, key string) string {
	n := d.scalar(m, key, "a string")
	if n == nil {
		return ""
	}
	return n.Value
}

// scalar returns the scalar value of the field key of m, or nil if the
// field is missing, null or not a scalar. Values other than scalars are
// reported as not being want unless lines patched by the recovery from
// syntax errors may have changed them.
func (d *decoder) scalar(m mapping, key, want string) *yaml.Node {
	field := join(m.path, key)
	e, ok := m.entries[key]
	if !ok {
		return nil
	}
	n := resolve(e.value)
	d.lines[field] = e.key.Line
	if n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		if len(d.damage.lostIn(n.Line, n)) == 0 && !d.damage.patched[e.key.Line] {
			d.addf(n.Line, field, "expected %s, got %s", want, describe(n))
		}
		return nil
	}
	d.lines[field] = n.Line
	return n
}

// required decodes the string field key of m and reports it if it is
// missing or empty.
func (d *decoder) required(m mapping, key string) string {
	s := d.str(m, key)
	if s == "" {
		d.missing(m, key)
	}
	return s
}

// missing reports the field key of m as missing (or empty, if present),
// unless m is damaged.
func (d *decoder) missing(m mapping, key string, why ...string) {
	if m.damaged {
		return
	}
	field := join(m.path, key)
	suffix := ""
	if len(why) > 0 {
		suffix = " (" + strings.Join(why, " ") + ")"
	}
	if e, ok := m.entries[key]; ok {
		n := resolve(e.value)
		if n == nil || n.Kind == yaml.ScalarNode {
			d.addf(e.key.Line, field, "%s%s", msgEmpty, suffix)
		}
		return
	}
	d.addf(m.line, field, "%s%s", msgMissing, suffix)
}

// line returns the line of field, or fallback if it is unknown.
func (d *decoder) line(field string, fallback int) int {
	if l, ok := d.lines[field]; ok {
		return l
	}
	return fallback
}

// seq decodes the list field key of m. A missing or null field is an empty
// list. Other values are reported unless lines patched by the recovery
// from syntax errors may have changed them.
func (d *decoder) seq(m mapping, key string) []*yaml.Node {
	e, ok := m.entries[key]
	if !ok || isNull(e.value) {
		return nil
	}
	n := resolve(e.value)
	if n.Kind != yaml.SequenceNode {
		if len(d.lostIn(m, key)) == 0 && !d.damage.patched[e.key.Line] {
			d.addf(n.Line, join(m.path, key), "expected a list, got %s", describe(n))
		}
		return nil
	}
	d.lines[join(m.path, key)] = e.key.Line
	return n.Content
}

// lostIn returns the lines of the field key of m, from its key to the end
// of its value, that were patched by the recovery from syntax errors.
func (d *decoder) lostIn(m mapping, key string) []int {
	e, ok := m.entries[key]
	if !ok {
		return nil
	}
	return d.damage.lostIn(e.key.Line, e.value)
}

// child decodes the mapping field key of m.
func (d *decoder) child(m mapping, key string, known []string) mapping {
	e, ok := m.entries[key]
	line := m.line
	var n *yaml.Node
	if ok {
		line, n = e.key.Line, e.value
	}
	return d.mapping(n, join(m.path, key), line, known)
}

// config decodes and validates the document root into cfg.
func (d *decoder) config(root *yaml.Node, cfg *Config) {
	if root != nil && root.Kind == yaml.DocumentNode {
		if len(root.Content) > 0 {
			root = root.Content[0]
		} else {
			root = nil
		}
	}
	top := d.mapping(root, "", 1, configKeys)
	top.damaged = top.damaged || d.damage.root

	cfg.StackDir = d.str(top, "stack_dir")

	db := d.child(top, "database", databaseKeys)
	cfg.Database.URI = d.str(db, "uri")
	cfg.Database.PickleKeyFile = d.str(db, "pickle_key_file")
	if cfg.Database.URI == "" {
		cfg.Database.URI = DefaultDatabaseURI
	} else if msg := databaseProblem(cfg.Database.URI); msg != "" {
		d.addf(d.line("database.uri", db.line), "database.uri", "%s", msg)
	}

	lg := d.child(top, "log", logKeys)
	cfg.Log.Level = strings.ToLower(d.str(lg, "level"))
	if cfg.Log.Level == "" {
		cfg.Log.Level = DefaultLogLevel
	} else if !contains([]string{"trace", "debug", "info", "warn", "error"}, cfg.Log.Level) {
		d.addf(d.line("log.level", lg.line), "log.level", "invalid log level %q (want trace, debug, info, warn or error)", cfg.Log.Level)
	}
	cfg.Log.Format = strings.ToLower(d.str(lg, "format"))
	if cfg.Log.Format == "" {
		cfg.Log.Format = DefaultLogFormat
	} else if !contains([]string{"text", "json"}, cfg.Log.Format) {
		d.addf(d.line("log.format", lg.line), "log.format", "invalid log format %q (want text or json)", cfg.Log.Format)
	}

	d.homeservers(top, cfg)
	if top.damaged && len(cfg.Homeservers) == 0 {
		d.homeserversDamaged = true
	}
	d.tenants(top, cfg)
	if top.damaged && len(cfg.Tenants) == 0 {
		d.tenantsDamaged = true
	}
	d.crossRooms(top, cfg)
	d.directory(top, cfg)
	d.provisioning(top, cfg)
	d.federation(top, cfg)
	d.admin(top, cfg)
	d.lifecycle(top, cfg)
	d.retention(top, cfg)
	d.records(top, cfg)
	d.bridge(top, cfg)
}

// homeservers decodes and validates the homeservers list.
func (d *decoder) homeservers(top mapping, cfg *Config) {
	items := d.seq(top, "homeservers")
	// Only dropping the value of a field other than a name keeps the
	// names of the homeservers.
	for _, line := range d.lostIn(top, "homeservers") {
		if key, ok := d.damage.keys[line]; !ok || key == "name" {
			d.homeserversDamaged = true
		}
	}
	if len(items) == 0 {
		if !top.has("homeservers") {
			d.missing(top, "homeservers")
		} else if _, isList := d.lines["homeservers"]; isList && !d.homeserversDamaged {
			d.addf(d.lines["homeservers"], "homeservers", "must list at least one homeserver")
		}
		return
	}
	// A lost stack_dir line makes connection settings look required.
	stackDirLost := cfg.StackDir == "" && top.damaged
	firstLine := map[HomeserverName]int{}
	for i, item := range items {
		path := fmt.Sprintf("homeservers[%d]", i)
		m := d.mapping(item, path, item.Line, homeserverKeys)
		h := Homeserver{Line: m.line}

		h.Name = HomeserverName(d.required(m, "name"))
		if h.Name != "" {
			line := d.line(path+".name", m.line)
			switch first, dup := firstLine[h.Name]; {
			case !nameRE.MatchString(string(h.Name)):
				d.addf(line, path+".name", "invalid homeserver name %q (want lowercase letters, digits and hyphens)", h.Name)
			case dup:
				d.addf(line, path+".name", "duplicate homeserver name %q (first defined at line %d)", h.Name, first)
			default:
				firstLine[h.Name] = line
			}
		}
		h.Description = d.str(m, "description")

		h.ServerName = d.str(m, "server_name")
		if h.ServerName != "" {
			if msg := serverNameProblem(h.ServerName); msg != "" {
				d.addf(d.line(path+".server_name", m.line), path+".server_name", "%s", msg)
			}
		} else if cfg.StackDir == "" && !stackDirLost {
			d.missing(m, "server_name", "required unless stack_dir is set")
		}

		h.ClientURL = d.str(m, "client_url")
		h.Insecure = d.boolean(m, "insecure", false)
		if h.ClientURL != "" {
			if msg := clientURLProblem(h.ClientURL); msg != "" {
				d.addf(d.line(path+".client_url", m.line), path+".client_url", "%s", msg)
			} else if u, _ := url.Parse(h.ClientURL); u.Scheme == "http" && !IsLoopbackHost(u.Hostname()) && !h.Insecure {
				d.addf(d.line(path+".client_url", m.line), path+".client_url",
					"http:// to %s sends the service account's password and tokens in clear: use https://, or set insecure: true to allow it", u.Host)
			}
		} else if cfg.StackDir == "" && !stackDirLost {
			d.missing(m, "client_url", "required unless stack_dir is set")
		}

		h.RegistrationSharedSecretFile = d.secretFile(m, "registration_shared_secret_file")
		h.AppserviceTokenFile = d.secretFile(m, "appservice_token_file")

		sa := d.child(m, "service_account", serviceAccountKeys)
		h.ServiceAccount.Localpart = d.str(sa, "localpart")
		if h.ServiceAccount.Localpart == "" {
			h.ServiceAccount.Localpart = DefaultServiceLocalpart
		} else if !localpartRE.MatchString(h.ServiceAccount.Localpart) {
			field := sa.path + ".localpart"
			d.addf(d.line(field, sa.line), field, "invalid Matrix localpart %q (want lowercase letters, digits and ._=/+-)", h.ServiceAccount.Localpart)
		}
		h.ServiceAccount.PasswordFile = d.secretFile(sa, "password_file")
		h.ServiceAccount.AccessTokenFile = d.secretFile(sa, "access_token_file")

		cfg.Homeservers = append(cfg.Homeservers, h)
	}
}

// secretFile decodes the secret file field key of m and reports it if it
// is set but cannot be read.
func (d *decoder) secretFile(m mapping, key string) string {
	path := d.str(m, key)
	if path == "" {
		return ""
	}
	if msg := secretProblem(path); msg != "" {
		field := join(m.path, key)
		d.addf(d.line(field, m.line), field, "%s", msg)
	}
	return path
}

// tenants decodes and validates the tenants list. It must run after
// homeservers.
func (d *decoder) tenants(top mapping, cfg *Config) {
	items := d.seq(top, "tenants")
	// Only dropping the value of a field other than an id keeps the ids
	// of the tenants.
	for _, line := range d.lostIn(top, "tenants") {
		if key, ok := d.damage.keys[line]; !ok || key == "id" {
			d.tenantsDamaged = true
		}
	}
	if len(items) == 0 {
		if !top.has("tenants") {
			d.missing(top, "tenants")
		} else if _, isList := d.lines["tenants"]; isList && len(d.lostIn(top, "tenants")) == 0 {
			d.addf(d.lines["tenants"], "tenants", "must list at least one tenant")
		}
		return
	}
	known := make([]string, len(cfg.Homeservers))
	for i, h := range cfg.Homeservers {
		known[i] = string(h.Name)
	}
	firstLine := map[TenantID]int{}
	for i, item := range items {
		path := fmt.Sprintf("tenants[%d]", i)
		m := d.mapping(item, path, item.Line, tenantKeys)
		t := Tenant{Line: m.line}

		t.ID = TenantID(d.required(m, "id"))
		if t.ID != "" {
			line := d.line(path+".id", m.line)
			switch first, dup := firstLine[t.ID]; {
			case !nameRE.MatchString(string(t.ID)):
				d.addf(line, path+".id", "invalid tenant id %q (want lowercase letters, digits and hyphens)", t.ID)
			case dup:
				d.addf(line, path+".id", "duplicate tenant id %q (first defined at line %d)", t.ID, first)
			default:
				firstLine[t.ID] = line
			}
		}

		t.Name = d.required(m, "name")

		t.Kind = TenantKind(d.required(m, "kind"))
		if t.Kind != "" && !t.Kind.Valid() {
			d.addf(d.line(path+".kind", m.line), path+".kind", "invalid tenant kind %q (want ministry, police, forestry or schools)", t.Kind)
		}

		t.Homeserver = HomeserverName(d.required(m, "homeserver"))
		if t.Homeserver != "" && !d.homeserversDamaged {
			if _, ok := cfg.Homeserver(t.Homeserver); !ok {
				d.addf(d.line(path+".homeserver", m.line), path+".homeserver", "unknown homeserver %q (configured: %s)", t.Homeserver, strings.Join(known, ", "))
			}
		}

		t.ShortName = d.str(m, "short_name")
		if t.ShortName == "" {
			t.ShortName = strings.ToUpper(string(t.ID))
		}
		d.units(m, &t)
		d.tenantRooms(m, &t)

		cfg.Tenants = append(cfg.Tenants, t)
	}
}

// databaseProblem validates a database URI and returns a problem message,
// or "".
func databaseProblem(uri string) string {
	driver, dsn := parseDatabaseURI(uri)
	switch driver {
	case DriverPostgres:
		u, err := url.Parse(uri)
		if err != nil {
			return "invalid PostgreSQL URI: " + redactURLError(err)
		}
		if u.Host == "" {
			return "invalid PostgreSQL URI: missing host"
		}
	case DriverSQLite:
		if strings.TrimPrefix(dsn, "file:") == "" {
			return "missing SQLite database path"
		}
	default:
		return fmt.Sprintf("unsupported database scheme %q (want sqlite:PATH, file:PATH, a plain path, postgres:// or postgresql://)", databaseScheme(uri))
	}
	return ""
}

// redactURLError describes a URL parse error without repeating the URL,
// which may contain a password.
func redactURLError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return "malformed URL"
}

// clientURLProblem validates a client-server API base URL and returns a
// problem message, or "".
func clientURLProblem(raw string) string {
	return urlProblem(raw, "must be an absolute http or https URL", "http", "https")
}

// IsLoopbackHost reports whether host (a name or an IP literal, without
// port) is on loopback: localhost or an address of 127.0.0.0/8 or ::1.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// urlProblem validates raw as a URL with one of schemes and a host, and
// returns a problem message (badScheme when the scheme is wrong), or "".
func urlProblem(raw, badScheme string, schemes ...string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "invalid URL: " + redactURLError(err)
	case !contains(schemes, u.Scheme):
		return fmt.Sprintf("%s, got %q", badScheme, u.Redacted())
	case u.Host == "":
		return fmt.Sprintf("missing host in URL %q", u.Redacted())
	}
	return ""
}

// serverNameProblem validates a Matrix server name (host with optional
// port) and returns a problem message, or "".
func serverNameProblem(name string) string {
	bad := fmt.Sprintf("invalid server name %q (want a host name or IP address with optional port, e.g. land.hessen.de)", name)
	if strings.Contains(name, "://") || strings.Contains(name, "/") {
		return bad
	}
	host, port := name, ""
	if strings.HasPrefix(name, "[") {
		end := strings.Index(name, "]")
		if end < 0 {
			return bad
		}
		host, port = name[1:end], name[end+1:]
		if ip := net.ParseIP(host); ip == nil || ip.To4() != nil {
			return bad
		}
	} else {
		if i := strings.LastIndex(name, ":"); i >= 0 {
			host, port = name[:i], name[i:]
		}
		if !dnsNameRE.MatchString(host) {
			return bad
		}
	}
	if port != "" {
		p, err := strconv.Atoi(strings.TrimPrefix(port, ":"))
		if !strings.HasPrefix(port, ":") || err != nil || p < 1 || p > 65535 {
			return bad
		}
	}
	return ""
}
