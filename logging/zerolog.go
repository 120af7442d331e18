package logging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/rs/zerolog"
	"github.com/sirupsen/logrus"
)

// OriginalLevelField is the logrus field that records the zerolog level of a
// bridged fatal or panic event, which is logged at error level.
const OriginalLevelField = "zerolog_level"

// Zerolog returns a zerolog.Logger whose events are all routed into l, which
// may be a *logrus.Logger or a *logrus.Entry (for example one carrying a
// "component" field). Each event is logged with the matching logrus level,
// its message, and its fields as logrus fields; secret fields are redacted
// even if l has no RedactHook. Fatal and panic events are logged at error
// level and never make logrus exit or panic. Note that zerolog's own
// Logger.Fatal and Logger.Panic still call os.Exit / panic after writing,
// independent of the writer; this is zerolog behaviour that the bridge cannot
// change. Filtering by level follows the current level of l.
func Zerolog(l logrus.FieldLogger) zerolog.Logger {
	return zerolog.New(NewZerologWriter(l))
}

// ZerologWriter is a zerolog.LevelWriter that decodes the JSON lines written
// by zerolog and logs them through logrus. Use Zerolog unless a custom
// zerolog.Logger (for example with timestamps or callers) is needed.
type ZerologWriter struct {
	base *logrus.Entry
}

var _ zerolog.LevelWriter = (*ZerologWriter)(nil)

// NewZerologWriter returns a ZerologWriter that logs into l, which may be a
// *logrus.Logger or a *logrus.Entry.
func NewZerologWriter(l logrus.FieldLogger) *ZerologWriter {
	return &ZerologWriter{base: l.WithFields(logrus.Fields{})}
}

// Write logs the zerolog events in p, taking each event's level from its
// level field. It always reports success so that zerolog never complains.
func (w *ZerologWriter) Write(p []byte) (int, error) {
	w.write(zerolog.NoLevel, false, p)
	return len(p), nil
}

// WriteLevel logs the zerolog events in p at the given zerolog level. It
// always reports success so that zerolog never complains.
func (w *ZerologWriter) WriteLevel(level zerolog.Level, p []byte) (int, error) {
	if level == zerolog.Disabled {
		return len(p), nil
	}
	if lvl, _ := logrusLevel(level); !w.enabled(lvl) {
		return len(p), nil
	}
	w.write(level, true, p)
	return len(p), nil
}

func (w *ZerologWriter) enabled(lvl logrus.Level) bool {
	return w.base.Logger == nil || w.base.Logger.IsLevelEnabled(lvl)
}

// write decodes every JSON object in p and logs it. If knownLevel is false,
// the level is taken from the event's level field.
func (w *ZerologWriter) write(level zerolog.Level, knownLevel bool, p []byte) {
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.UseNumber()
	for {
		var event map[string]any
		err := dec.Decode(&event)
		if err == io.EOF {
			return
		} else if err != nil {
			// Not JSON (or truncated): keep the text rather than losing it.
			rest := bytes.TrimSpace(p[min(int(dec.InputOffset()), len(p)):])
			if len(rest) == 0 {
				rest = bytes.TrimSpace(p)
			}
			lvl, _ := logrusLevel(level)
			w.base.Log(lvl, string(rest))
			return
		}
		w.logEvent(level, knownLevel, event)
	}
}

func (w *ZerologWriter) logEvent(level zerolog.Level, knownLevel bool, event map[string]any) {
	if raw, ok := event[zerolog.LevelFieldName]; ok {
		if !knownLevel {
			if s, ok := raw.(string); ok {
				if parsed, err := zerolog.ParseLevel(s); err == nil {
					level = parsed
				}
			}
		}
		delete(event, zerolog.LevelFieldName)
	}
	if level == zerolog.Disabled {
		return
	}
	lvl, downgraded := logrusLevel(level)
	if !w.enabled(lvl) {
		return
	}

	var msg string
	if raw, ok := event[zerolog.MessageFieldName]; ok {
		if s, ok := raw.(string); ok {
			msg = s
		} else {
			msg = fmt.Sprint(raw)
		}
		delete(event, zerolog.MessageFieldName)
	}

	entry := w.base
	if raw, ok := event[zerolog.TimestampFieldName]; ok {
		if ts, ok := parseTime(raw); ok {
			entry = entry.WithTime(ts)
			delete(event, zerolog.TimestampFieldName)
		}
	}
	if downgraded {
		event[OriginalLevelField] = level.String()
	}
	entry.WithFields(RedactFields(event)).Log(lvl, msg)
}

// logrusLevel maps a zerolog level to a logrus level. Fatal and panic map to
// error (downgraded is then true) because logrus would otherwise exit or
// panic; events without a level map to info.
func logrusLevel(level zerolog.Level) (lvl logrus.Level, downgraded bool) {
	switch level {
	case zerolog.TraceLevel:
		return logrus.TraceLevel, false
	case zerolog.DebugLevel:
		return logrus.DebugLevel, false
	case zerolog.InfoLevel:
		return logrus.InfoLevel, false
	case zerolog.WarnLevel:
		return logrus.WarnLevel, false
	case zerolog.ErrorLevel:
		return logrus.ErrorLevel, false
	case zerolog.FatalLevel, zerolog.PanicLevel:
		return logrus.ErrorLevel, true
	default:
		if level < zerolog.TraceLevel {
			// Custom levels below trace.
			return logrus.TraceLevel, false
		}
		return logrus.InfoLevel, false
	}
}

// parseTime decodes a zerolog timestamp written with zerolog.TimeFieldFormat.
func parseTime(raw any) (time.Time, bool) {
	switch v := raw.(type) {
	case string:
		layout := zerolog.TimeFieldFormat
		switch layout {
		case zerolog.TimeFormatUnix, zerolog.TimeFormatUnixMs, zerolog.TimeFormatUnixMicro, zerolog.TimeFormatUnixNano:
			layout = time.RFC3339Nano
		}
		ts, err := time.Parse(layout, v)
		return ts, err == nil
	case json.Number:
		n, err := strconv.ParseInt(v.String(), 10, 64)
		if err != nil {
			f, err := strconv.ParseFloat(v.String(), 64)
			if err != nil || zerolog.TimeFieldFormat != zerolog.TimeFormatUnix {
				return time.Time{}, false
			}
			return time.UnixMicro(int64(f * 1e6)), true
		}
		switch zerolog.TimeFieldFormat {
		case zerolog.TimeFormatUnix:
			return time.Unix(n, 0), true
		case zerolog.TimeFormatUnixMs:
			return time.UnixMilli(n), true
		case zerolog.TimeFormatUnixMicro:
			return time.UnixMicro(n), true
		case zerolog.TimeFormatUnixNano:
			return time.Unix(0, n), true
		}
	}
	return time.Time{}, false
}
