package directory

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/landesmessenger/landesmessenger/config"
)

// Defaults of LDAPConfig.
const (
	// DefaultLDAPFilter is the search filter used when LDAPConfig.Filter
	// is empty.
	DefaultLDAPFilter = "(objectClass=inetOrgPerson)"
	// DefaultMemberAttribute is the group attribute listing the member
	// DNs used when LDAPConfig.MemberAttribute is empty, as in the
	// groupOfNames object class.
	DefaultMemberAttribute = "member"
	// DefaultLDAPTimeout is the timeout used when LDAPConfig.Timeout is
	// zero.
	DefaultLDAPTimeout = 30 * time.Second
)

// DefaultAttributes returns the LDAP attributes read for the fields of a
// person unless LDAPConfig.Attributes maps them otherwise. Fields without a
// default (tenant, unit, role, deputy) are only read if mapped.
func DefaultAttributes() map[string]string {
	return map[string]string{
		"id":         "uid",
		"given_name": "givenName",
		"surname":    "sn",
		"office":     "physicalDeliveryOfficeName",
	}
}

// defaultPageSize is the number of entries asked for per page of a paged
// search.
const defaultPageSize = 500

// LDAPConfig configures an LDAP source.
type LDAPConfig struct {
	// URL is the server, e.g. ldap://127.0.0.1:3389 or
	// ldaps://ldap.hessen.de.
	URL string
	// BindDN is the DN to bind as. If it is empty, the source reads
	// anonymously.
	BindDN string
	// BindPassword is the password of BindDN, already read from a secret
	// file by the caller. It never appears in logs or errors.
	BindPassword string
	// BaseDN is the subtree searched for people.
	BaseDN string
	// Filter selects the people entries; it defaults to
	// DefaultLDAPFilter.
	Filter string
	// Attributes maps fields of a person (id, given_name, surname,
	// office, tenant, unit, role, deputy) to LDAP attributes, overriding
	// DefaultAttributes. An empty attribute name unmaps a field.
	Attributes map[string]string
	// Groups assigns tenant, unit and role to the direct members of
	// groups.
	Groups []GroupMapping
	// MemberAttribute is the attribute of a group listing the DNs of its
	// members; it defaults to DefaultMemberAttribute.
	MemberAttribute string
	// Timeout bounds connecting and each request; it defaults to
	// DefaultLDAPTimeout.
	Timeout time.Duration
	// StartTLS upgrades an ldap:// connection to TLS before the bind; a
	// server that refuses it is an error, never a fallback to clear text.
	StartTLS bool
	// RootCAs verify the server's certificate (ldaps:// and StartTLS);
	// nil means the system's CAs.
	RootCAs *x509.CertPool
}

// GroupMapping gives the direct members of the group DN a tenant, unit
// and role. Empty values assign nothing.
//
// A person's tenant and unit may come from an attribute and from any
// number of groups, but they must agree: a person with conflicting values
// is skipped with a problem. Of several roles the most privileged wins.
type GroupMapping struct {
	// DN is the DN of the group.
	DN string
	// Tenant is the tenant of the members, or "".
	Tenant config.TenantID
	// Unit is the unit of the members, or "".
	Unit string
	// Role is the role of the members, or "".
	Role Role
}

// ldapSource is a Source reading an LDAP directory.
type ldapSource struct {
	cfg      LDAPConfig
	pageSize uint32
}

// NewLDAP returns a source reading the people of an LDAP directory: the
// entries below cfg.BaseDN matching cfg.Filter, with their fields read
// from the attributes cfg.Attributes and the group mappings cfg.Groups.
// The search is paged (RFC 2696) on servers supporting it; the paging
// control is not critical, so other servers return all entries at once.
// Problems name the DN of the entry.
//
// Read returns an error, and no people, if the configuration is invalid,
// the server cannot be reached, the bind fails, a mapped group does not
// exist or a search fails (including a server size or time limit, which
// would leave the result incomplete).
func NewLDAP(cfg LDAPConfig) Source {
	return &ldapSource{cfg: cfg, pageSize: defaultPageSize}
}

var _ Source = (*ldapSource)(nil)

// Name returns the URL of the server, without any user information.
func (s *ldapSource) Name() string {
	u, err := url.Parse(s.cfg.URL)
	if err != nil {
		return "LDAP server"
	}
	u.User = nil
	return u.String()
}

// ldapPlan is a checked LDAPConfig with its defaults applied.
type ldapPlan struct {
	attrs   map[string]string // field -> attribute, mapped fields only
	groups  []GroupMapping
	member  string
	filter  string
	timeout time.Duration
}

// plan checks the configuration and applies its defaults.
func (s *ldapSource) plan() (*ldapPlan, error) {
	cfg := s.cfg
	if cfg.URL == "" {
		return nil, errors.New("no LDAP URL")
	}
	if cfg.BaseDN == "" {
		return nil, errors.New("no base DN")
	}
	if _, err := ldap.ParseDN(cfg.BaseDN); err != nil {
		return nil, fmt.Errorf("base DN %q: %w", cfg.BaseDN, err)
	}
	p := &ldapPlan{
		attrs:   DefaultAttributes(),
		groups:  cfg.Groups,
		member:  orDefault(cfg.MemberAttribute, DefaultMemberAttribute),
		filter:  orDefault(cfg.Filter, DefaultLDAPFilter),
		timeout: cfg.Timeout,
	}
	if p.timeout <= 0 {
		p.timeout = DefaultLDAPTimeout
	}
	if _, err := ldap.CompileFilter(p.filter); err != nil {
		return nil, fmt.Errorf("filter %q: %w", p.filter, err)
	}
	for _, field := range slices.Sorted(maps.Keys(cfg.Attributes)) {
		if !slices.Contains(fields, field) {
			return nil, fmt.Errorf("attribute mapping for unknown field %q, want one of %s", field, strings.Join(fields, ", "))
		}
		if attr := cfg.Attributes[field]; attr != "" {
			p.attrs[field] = attr
		} else {
			delete(p.attrs, field)
		}
	}
	if p.attrs["id"] == "" {
		return nil, errors.New("no attribute mapped to the field id")
	}
	for _, g := range cfg.Groups {
		if _, err := ldap.ParseDN(g.DN); err != nil || g.DN == "" {
			return nil, fmt.Errorf("group DN %q: invalid DN", g.DN)
		}
		if g.Role != "" && !g.Role.Valid() {
			return nil, fmt.Errorf("group %s: invalid role %q; want %s", g.DN, string(g.Role), roleList())
		}
	}
	return p, nil
}

// orDefault returns s, or def if s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Read reads the directory. See NewLDAP.
func (s *ldapSource) Read(ctx context.Context) (Result, error) {
	p, err := s.plan()
	if err != nil {
		return Result{}, fmt.Errorf("LDAP configuration: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	tlsConf := &tls.Config{RootCAs: s.cfg.RootCAs, MinVersion: tls.VersionTLS12}
	if u, err := url.Parse(s.cfg.URL); err == nil {
		tlsConf.ServerName = u.Hostname()
	}
	conn, err := ldap.DialURL(s.cfg.URL, ldap.DialWithDialer(&net.Dialer{Timeout: p.timeout}), ldap.DialWithTLSConfig(tlsConf))
	if err != nil {
		return Result{}, fmt.Errorf("connect to %s: %w", s.Name(), err)
	}
	defer conn.Close()
	if s.cfg.StartTLS {
		if err := conn.StartTLS(tlsConf); err != nil {
			return Result{}, fmt.Errorf("StartTLS with %s: %w", s.Name(), err)
		}
	}
	conn.SetTimeout(p.timeout)
	// Cancelling ctx closes the connection, failing the pending request.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	result, err := s.read(conn, p)
	if ctxErr := ctx.Err(); ctxErr != nil {
		return Result{}, ctxErr
	}
	return result, err
}

// read reads the directory over conn.
func (s *ldapSource) read(conn *ldap.Conn, p *ldapPlan) (Result, error) {
	if s.cfg.BindDN != "" {
		if err := conn.Bind(s.cfg.BindDN, s.cfg.BindPassword); err != nil {
			return Result{}, fmt.Errorf("bind as %s: %w", s.cfg.BindDN, err)
		}
	}

	var problems []Problem
	// groupsOf maps the canonical DN of each member to the indexes of
	// the groups in p.groups.
	groupsOf := map[string][]int{}
	for i, g := range p.groups {
		members, groupProblems, err := s.members(conn, p, g.DN)
		if err != nil {
			return Result{}, err
		}
		problems = append(problems, groupProblems...)
		for _, m := range members {
			groupsOf[m] = append(groupsOf[m], i)
		}
	}

	attrs := slices.Sorted(maps.Values(p.attrs))
	timeLimit := int((p.timeout + time.Second - 1) / time.Second)
	req := ldap.NewSearchRequest(s.cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		0, timeLimit, false, p.filter, slices.Compact(attrs), nil)
	res, err := conn.SearchWithPaging(req, s.pageSize)
	if err != nil {
		return Result{}, fmt.Errorf("search %s for %s: %w", s.cfg.BaseDN, p.filter, err)
	}

	var people []Person
	for _, e := range res.Entries {
		person, msgs := s.person(e, p, groupsOf)
		for _, msg := range msgs {
			problems = append(problems, Problem{Source: e.DN, Msg: msg})
		}
		if len(msgs) == 0 {
			people = append(people, person)
		}
	}
	people, dups := dedupe(people)
	sortByID(people)
	return Result{People: people, Problems: append(problems, dups...)}, nil
}

// members returns the canonical DNs of the direct members of the group
// dn. Member values that are not DNs are problems of the group.
func (s *ldapSource) members(conn *ldap.Conn, p *ldapPlan, dn string) ([]string, []Problem, error) {
	req := ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		1, 0, false, "(objectClass=*)", []string{p.member}, nil)
	res, err := conn.Search(req)
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return nil, nil, fmt.Errorf("group %s does not exist", dn)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read group %s: %w", dn, err)
	}
	if len(res.Entries) != 1 {
		return nil, nil, fmt.Errorf("group %s does not exist", dn)
	}
	var (
		members  []string
		problems []Problem
	)
	for _, v := range res.Entries[0].GetEqualFoldAttributeValues(p.member) {
		m, err := canonicalDN(v)
		if err != nil {
			problems = append(problems, Problem{Source: dn, Msg: fmt.Sprintf("%s value %q is not a DN and is ignored", p.member, v)})
			continue
		}
		members = append(members, m)
	}
	return members, problems, nil
}

// person builds the person of entry e. It returns the problems that make
// the entry unreadable; Validate checks the rest.
func (s *ldapSource) person(e *ldap.Entry, p *ldapPlan, groupsOf map[string][]int) (Person, []string) {
	person := Person{Source: e.DN}
	var msgs []string
	for _, field := range fields {
		attr, ok := p.attrs[field]
		if !ok {
			continue
		}
		switch values := e.GetEqualFoldAttributeValues(attr); len(values) {
		case 0:
		case 1:
			setField(&person, field, values[0])
		default:
			msgs = append(msgs, fmt.Sprintf("attribute %s (%s) has %d values, want one", attr, field, len(values)))
		}
	}
	person = normalize(person)

	dn, err := canonicalDN(e.DN)
	if err != nil {
		return person, append(msgs, fmt.Sprintf("invalid DN: %v", err))
	}
	tenantFrom, unitFrom := "attribute "+p.attrs["tenant"], "attribute "+p.attrs["unit"]
	for _, i := range groupsOf[dn] {
		g := p.groups[i]
		if g.Tenant != "" {
			if person.Tenant != "" && person.Tenant != g.Tenant {
				msgs = append(msgs, fmt.Sprintf("tenant %q from group %s conflicts with tenant %q from %s", string(g.Tenant), g.DN, string(person.Tenant), tenantFrom))
			} else if person.Tenant == "" {
				person.Tenant, tenantFrom = g.Tenant, "group "+g.DN
			}
		}
		if g.Unit != "" {
			if person.Unit != "" && person.Unit != g.Unit {
				msgs = append(msgs, fmt.Sprintf("unit %q from group %s conflicts with unit %q from %s", g.Unit, g.DN, person.Unit, unitFrom))
			} else if person.Unit == "" {
				person.Unit, unitFrom = g.Unit, "group "+g.DN
			}
		}
		// An invalid role from an attribute is kept for Validate to
		// report.
		if g.Role != "" && person.Role.Valid() && g.Role.rank() > person.Role.rank() {
			person.Role = g.Role
		}
	}
	return person, msgs
}

// canonicalDN returns a form of the DN s that is equal for equivalent
// DNs: attribute types and values lowercased, the attributes of each RDN
// sorted.
func canonicalDN(s string) (string, error) {
	dn, err := ldap.ParseDN(s)
	if err != nil {
		return "", err
	}
	if len(dn.RDNs) == 0 {
		return "", errors.New("empty DN")
	}
	rdns := make([]string, len(dn.RDNs))
	for i, rdn := range dn.RDNs {
		attrs := make([]string, len(rdn.Attributes))
		for j, a := range rdn.Attributes {
			folded := ldap.AttributeTypeAndValue{Type: strings.ToLower(a.Type), Value: strings.ToLower(a.Value)}
			attrs[j] = folded.String()
		}
		sort.Strings(attrs)
		rdns[i] = strings.Join(attrs, "+")
	}
	return strings.Join(rdns, ","), nil
}
