package logging

import (
	"strings"

	"github.com/sirupsen/logrus"
)

// Redacted is the value that replaces secret field values in logs.
const Redacted = "[redacted]"

// secretKeys are the field names, in lower case, that always hold secrets.
var secretKeys = map[string]struct{}{
	"password":                   {},
	"access_token":               {},
	"token":                      {},
	"shared_secret":              {},
	"registration_shared_secret": {},
	"secret":                     {},
	"pickle_key":                 {},
	"recovery_key":               {},
}

// secretSuffixes are the field name suffixes, in lower case, that mark secrets.
var secretSuffixes = []string{"_token", "_secret", "_password"}

// IsSecretKey reports whether a log field with the given name holds a secret.
// The comparison is case-insensitive and treats '-' like '_'. Secret names
// are password, access_token, token, shared_secret,
// registration_shared_secret, secret, pickle_key and recovery_key, and any
// name ending in _token, _secret or _password.
func IsSecretKey(name string) bool {
	name = strings.ReplaceAll(strings.ToLower(name), "-", "_")
	if _, ok := secretKeys[name]; ok {
		return true
	}
	for _, suffix := range secretSuffixes {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	return false
}

// RedactFields returns a copy of fields in which the values of secret keys
// (see IsSecretKey) are replaced with Redacted. Nested map[string]any and
// []any values, such as the objects decoded from zerolog events, are
// redacted recursively; other values are kept as they are. The input is not
// modified.
func RedactFields(fields logrus.Fields) logrus.Fields {
	out := make(logrus.Fields, len(fields))
	for k, v := range fields {
		if IsSecretKey(k) {
			out[k] = Redacted
		} else {
			out[k] = redactValue(v)
		}
	}
	return out
}

// redactValue redacts secrets nested inside maps and slices of v, copying
// any container it descends into.
func redactValue(v any) any {
	switch val := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(val))
		for k, inner := range val {
			if IsSecretKey(k) {
				out[k] = Redacted
			} else {
				out[k] = redactValue(inner)
			}
		}
		return out
	case logrus.Fields:
		return RedactFields(val)
	case []any:
		out := make([]any, len(val))
		for i, inner := range val {
			out[i] = redactValue(inner)
		}
		return out
	default:
		return v
	}
}

// RedactHook is a logrus hook that replaces the values of secret fields (see
// IsSecretKey) with Redacted before the entry is formatted. Hooks run in the
// order they were added, so add it before any hook that ships entries
// elsewhere. New installs it automatically.
type RedactHook struct{}

// Levels returns all logrus levels.
func (RedactHook) Levels() []logrus.Level {
	return logrus.AllLevels
}

// Fire redacts the fields of entry. logrus hands hooks a private copy of the
// entry's field map, so replacing it does not affect the caller's entry.
func (RedactHook) Fire(entry *logrus.Entry) error {
	entry.Data = RedactFields(entry.Data)
	return nil
}
