// Package logging builds the logrus loggers of Landesmessenger, bridges
// zerolog (used by mautrix) into them so that an operator sees a single log
// stream, and redacts secrets from log fields.
package logging

import (
	"fmt"
	"io"
	"strings"

	"github.com/sirupsen/logrus"
)

// Supported values for the format argument of New.
const (
	FormatText = "text"
	FormatJSON = "json"
)

// New returns a new logrus logger that writes to w at the given level in the
// given format. The level is any level understood by logrus.ParseLevel
// (trace, debug, info, warn, warning, error, fatal, panic; case-insensitive)
// and defaults to info when empty. The format is "text" (logrus text
// formatter with full timestamps) or "json" and defaults to "text" when
// empty. The logger has a RedactHook installed, so fields that look like
// secrets are replaced with "[redacted]". New never touches the global
// logrus logger.
func New(w io.Writer, level, format string) (*logrus.Logger, error) {
	lvl := logrus.InfoLevel
	if strings.TrimSpace(level) != "" {
		var err error
		lvl, err = logrus.ParseLevel(strings.TrimSpace(level))
		if err != nil {
			return nil, fmt.Errorf("logging: invalid log level %q: %w", level, err)
		}
	}

	var formatter logrus.Formatter
	switch strings.ToLower(strings.TrimSpace(format)) {
	case "", FormatText:
		formatter = &logrus.TextFormatter{FullTimestamp: true}
	case FormatJSON:
		formatter = &logrus.JSONFormatter{}
	default:
		return nil, fmt.Errorf("logging: invalid log format %q: expected %q or %q", format, FormatText, FormatJSON)
	}

	l := logrus.New()
	l.SetOutput(w)
	l.SetLevel(lvl)
	l.SetFormatter(formatter)
	l.AddHook(RedactHook{})
	return l, nil
}
