package store

import (
	"errors"
	"net/url"
	"strings"
)

// redactedPassword replaces passwords in error messages.
const redactedPassword = "xxxxx"

// uriPasswords returns the password of a URI in every spelling that could
// appear in an error message (as written and percent-decoded). It also
// copes with URIs that net/url cannot parse.
func uriPasswords(uri string) []string {
	var out []string
	add := func(p string) {
		if p == "" {
			return
		}
		for _, have := range out {
			if have == p {
				return
			}
		}
		out = append(out, p)
	}
	if u, err := url.Parse(uri); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			add(p)
			add(url.QueryEscape(p))
			add(url.PathEscape(p))
		}
	}
	// Fallback: everything between the first ':' after "scheme://" and the
	// last '@' is taken as the password.
	if _, rest, ok := strings.Cut(uri, "://"); ok {
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if _, raw, ok := strings.Cut(rest[:at], ":"); ok {
				add(raw)
				if dec, err := url.PathUnescape(raw); err == nil {
					add(dec)
				}
			}
		}
	}
	// Also redact password=... in the query string.
	if _, query, ok := strings.Cut(uri, "?"); ok {
		if q, err := url.ParseQuery(query); err == nil {
			for _, p := range q["password"] {
				add(p)
				add(url.QueryEscape(p))
			}
		}
	}
	// Replace longer spellings first so that a shorter one cannot leave
	// parts of a longer one behind.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && len(out[j]) > len(out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// redactError returns err unchanged if its message contains none of the
// passwords. Otherwise it returns an error with the passwords replaced; that
// error supports errors.Is and errors.As but not errors.Unwrap, so the
// original message cannot be reached by unwrapping.
func redactError(err error, passwords []string) error {
	msg := err.Error()
	redacted := msg
	for _, p := range passwords {
		redacted = strings.ReplaceAll(redacted, p, redactedPassword)
	}
	if redacted == msg {
		return err
	}
	return &redactedError{msg: redacted, err: err}
}

// redactedError is an error whose message had passwords removed.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }

// Is reports whether the original error matches target.
func (e *redactedError) Is(target error) bool { return errors.Is(e.err, target) }

// As finds the first error in the original error's chain that matches target.
func (e *redactedError) As(target any) bool { return errors.As(e.err, target) }
