package config

import (
	"strings"
	"time"
)

// Federation names the Land's signed federation list (see package
// federation) and the keys it must be signed with.
type Federation struct {
	// List is the path (relative to the working directory) or https URL
	// of the signed federation list.
	List string `yaml:"list"`
	// PublicKeyFiles are the public keys of the IT authority (files
	// written by `landesmessenger federation keygen`); the list must be
	// signed by one of them.
	PublicKeyFiles []string `yaml:"public_key_files"`
	// Refresh is how often serve fetches the list again; at least
	// MinInterval.
	Refresh time.Duration `yaml:"refresh"`
	// Line is where the section starts.
	Line int `yaml:"-"`
}

// DefaultFederationRefresh is how often serve fetches the federation list
// unless configured.
const DefaultFederationRefresh = 5 * time.Minute

// IsURL reports whether the list is fetched over HTTPS.
func (f *Federation) IsURL() bool { return strings.HasPrefix(f.List, "https://") }

// federation decodes and validates the federation section. The list and
// key files are read at run time (the demo stack writes them when it
// starts), so they need not exist when the configuration is checked.
func (d *decoder) federation(top mapping, cfg *Config) {
	if !top.has("federation") {
		return
	}
	m := d.child(top, "federation", federationKeys)
	f := &Federation{Line: m.line}
	f.List = d.required(m, "list")
	if strings.Contains(f.List, "://") {
		if msg := urlProblem(f.List, "must be a file path or an https URL", "https"); msg != "" {
			d.addf(d.line(join(m.path, "list"), m.line), join(m.path, "list"), "%s", msg)
		}
	}
	keys, _, _ := d.strs(m, "public_key_files")
	if d.emptyList(m, "public_key_files", "public key file") {
		d.missing(m, "public_key_files", "the federation list must be signed by a trusted key")
	}
	f.PublicKeyFiles = keys
	f.Refresh = d.duration(m, "refresh", DefaultFederationRefresh)
	if f.Refresh < MinInterval {
		f := join(m.path, "refresh")
		d.addf(d.line(f, m.line), f, "must be at least %s", MinInterval)
	}
	cfg.Federation = f
}
