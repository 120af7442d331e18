package bridge

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
)

// ErrNotAuthentic is a mail whose origin could not be proven: no valid
// DKIM signature of its From domain where one is required. The SMTP
// server answers 550.
var ErrNotAuthentic = errors.New("mail not authenticated")

// ErrAuthTemporary is a check that could not be done now (DNS did not
// answer): the SMTP server answers 451 and the sender retries.
var ErrAuthTemporary = errors.New("mail authentication temporarily impossible")

// DKIMChecker decides whether a mail proves that it comes from the domain
// of its header From, per school: a valid DKIM signature (RFC 6376) whose
// signing domain is the From domain or a parent of it (relaxed DMARC
// alignment without a public-suffix list, so a signature of a parent domain
// counts only when its key is pinned or published under that parent).
type DKIMChecker struct {
	Schools *Schools
	// Default applies to schools without their own require_dkim.
	Default bool
	// LookupTXT looks up keys not pinned in the schools directory; nil
	// means DNS (net.LookupTXT).
	LookupTXT func(name string) ([]string, error)
}

// Required reports whether mail from the mailbox from must be signed.
func (c *DKIMChecker) Required(from string) bool {
	if mb, ok := c.Schools.Mailbox(from); ok {
		if sc, ok := c.Schools.School(mb.School); ok && sc.RequireDKIM != nil {
			return *sc.RequireDKIM
		}
	}
	return c.Default
}

// Check verifies raw, a mail whose header From is the mailbox from. It
// returns nil when the mail need not be or is signed by from's domain, an
// error wrapping ErrNotAuthentic with the reason otherwise, or one
// wrapping ErrAuthTemporary.
func (c *DKIMChecker) Check(from string, raw []byte) error {
	if !c.Required(from) {
		return nil
	}
	_, domain, _ := strings.Cut(strings.ToLower(from), "@")
	var school *School
	if mb, ok := c.Schools.Mailbox(from); ok {
		school, _ = c.Schools.School(mb.School)
	}
	lookup := c.LookupTXT
	if lookup == nil {
		lookup = net.LookupTXT
	}
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{
		MaxVerifications: 5,
		LookupTXT: func(name string) ([]string, error) {
			if school != nil && len(school.DKIMKeys) > 0 {
				return pinnedKey(school, name)
			}
			return lookup(name)
		},
	})
	if err != nil && !errors.Is(err, dkim.ErrTooManySignatures) {
		return fmt.Errorf("%w: DKIM: %v", ErrNotAuthentic, err)
	}
	if len(verifs) == 0 {
		return fmt.Errorf("%w: no DKIM signature; mail from %s must be signed by its domain", ErrNotAuthentic, domain)
	}
	var reasons []string
	temporary := false
	for _, v := range verifs {
		d := strings.ToLower(v.Domain)
		switch {
		case v.Err != nil:
			reasons = append(reasons, fmt.Sprintf("signature of %s: %v", d, v.Err))
			temporary = temporary || dkim.IsTempFail(v.Err)
		case d != domain && !strings.HasSuffix(domain, "."+d):
			reasons = append(reasons, fmt.Sprintf("signature of %s does not match the From domain %s", d, domain))
		default:
			return nil
		}
	}
	if temporary {
		return fmt.Errorf("%w: %s", ErrAuthTemporary, strings.Join(reasons, "; "))
	}
	return fmt.Errorf("%w: %s", ErrNotAuthentic, strings.Join(reasons, "; "))
}

// pinnedKey answers a key look-up from the school's pinned keys: the name
// must be SELECTOR._domainkey.DOMAIN with a pinned selector and one of
// the school's mail domains. Anything else has no key, so a pinned school
// cannot be impersonated with a key from DNS.
func pinnedKey(school *School, name string) ([]string, error) {
	sel, domain, ok := strings.Cut(strings.ToLower(strings.TrimSuffix(name, ".")), "._domainkey.")
	if ok {
		for _, d := range school.Domains() {
			if d != domain {
				continue
			}
			for s, rec := range school.DKIMKeys {
				if strings.EqualFold(s, sel) {
					return []string{rec}, nil
				}
			}
		}
	}
	return nil, fmt.Errorf("no key pinned for %s in the schools directory (school %s)", name, school.Number)
}
