package logging

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/sirupsen/logrus"
)

// newJSONLogger returns a trace-level JSON logger writing into a buffer. The
// logger fails the test if logrus ever tries to exit.
func newJSONLogger(t *testing.T) (*logrus.Logger, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	l, err := New(&buf, "trace", "json")
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	l.ExitFunc = func(code int) { t.Fatalf("logrus tried to exit with code %d", code) }
	return l, &buf
}

// lines decodes every JSON line in buf.
func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func onlyLine(t *testing.T, buf *bytes.Buffer) map[string]any {
	t.Helper()
	got := lines(t, buf)
	if len(got) != 1 {
		t.Fatalf("got %d log lines, want 1: %q", len(got), buf.String())
	}
	return got[0]
}

func TestZerologEventArrivesInLogrus(t *testing.T) {
	l, buf := newJSONLogger(t)
	zl := Zerolog(l.WithField("component", "mautrix"))

	zl.Warn().
		Str("room_id", "!room:example.org").
		Int("count", 42).
		Bool("ok", true).
		Dict("nested", zerolog.Dict().Str("k", "v").Int("n", 7)).
		Strs("list", []string{"a", "b"}).
		Msg("hello from zerolog")

	got := onlyLine(t, buf)
	want := map[string]any{
		"level":     "warning",
		"msg":       "hello from zerolog",
		"component": "mautrix",
		"room_id":   "!room:example.org",
		"count":     float64(42),
		"ok":        true,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("field %q = %#v, want %#v (line %v)", k, got[k], v, got)
		}
	}
	nested, ok := got["nested"].(map[string]any)
	if !ok || nested["k"] != "v" || nested["n"] != float64(7) {
		t.Errorf("nested = %#v, want object {k:v n:7}", got["nested"])
	}
	if list, ok := got["list"].([]any); !ok || len(list) != 2 || list[0] != "a" {
		t.Errorf("list = %#v, want [a b]", got["list"])
	}
	if _, ok := got["time"].(string); !ok {
		t.Errorf("missing logrus time field: %v", got)
	}
}

func TestZerologLevels(t *testing.T) {
	tests := []struct {
		name  string
		log   func(zerolog.Logger)
		level string
	}{
		{"trace", func(z zerolog.Logger) { z.Trace().Msg("m") }, "trace"},
		{"debug", func(z zerolog.Logger) { z.Debug().Msg("m") }, "debug"},
		{"info", func(z zerolog.Logger) { z.Info().Msg("m") }, "info"},
		{"warn", func(z zerolog.Logger) { z.Warn().Msg("m") }, "warning"},
		{"error", func(z zerolog.Logger) { z.Error().Msg("m") }, "error"},
		{"fatal", func(z zerolog.Logger) { z.WithLevel(zerolog.FatalLevel).Msg("m") }, "error"},
		{"panic", func(z zerolog.Logger) { z.WithLevel(zerolog.PanicLevel).Msg("m") }, "error"},
		{"nolevel", func(z zerolog.Logger) { z.Log().Msg("m") }, "info"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, buf := newJSONLogger(t)
			tt.log(Zerolog(l))
			got := onlyLine(t, buf)
			if got["level"] != tt.level || got["msg"] != "m" {
				t.Errorf("got level %v msg %v, want level %s msg m", got["level"], got["msg"], tt.level)
			}
		})
	}
}

func TestZerologFatalDoesNotExitOrPanic(t *testing.T) {
	l, buf := newJSONLogger(t)
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("bridge panicked: %v", r)
		}
	}()
	zl := Zerolog(l)
	zl.WithLevel(zerolog.FatalLevel).Str("reason", "disk full").Msg("fatal event")
	zl.WithLevel(zerolog.PanicLevel).Msg("panic event")
	// Events written without a level hint take the level from the JSON.
	w := NewZerologWriter(l)
	if _, err := w.Write([]byte(`{"level":"fatal","message":"raw fatal"}` + "\n")); err != nil {
		t.Fatalf("Write: %v", err)
	}

	got := lines(t, buf)
	if len(got) != 3 {
		t.Fatalf("got %d lines, want 3: %q", len(got), buf.String())
	}
	for i, wantLevel := range []string{"fatal", "panic", "fatal"} {
		if got[i]["level"] != "error" || got[i][OriginalLevelField] != wantLevel {
			t.Errorf("line %d: level %v, %s %v; want error, %s", i, got[i]["level"], OriginalLevelField, got[i][OriginalLevelField], wantLevel)
		}
	}
	if got[0]["reason"] != "disk full" {
		t.Errorf("fields of fatal event lost: %v", got[0])
	}
}

func TestZerologRespectsLogrusLevel(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(&buf, "info", "json")
	if err != nil {
		t.Fatal(err)
	}
	zl := Zerolog(l)
	zl.Debug().Msg("hidden")
	zl.Trace().Msg("hidden")
	zl.Info().Msg("shown")
	got := onlyLine(t, &buf)
	if got["msg"] != "shown" {
		t.Errorf("got %v", got)
	}

	// Level changes after the bridge was created are honoured.
	buf.Reset()
	l.SetLevel(logrus.DebugLevel)
	zl.Debug().Msg("now shown")
	if got := onlyLine(t, &buf); got["msg"] != "now shown" {
		t.Errorf("got %v", got)
	}
}

func TestZerologWriterNonJSON(t *testing.T) {
	l, buf := newJSONLogger(t)
	w := NewZerologWriter(l)
	if _, err := w.WriteLevel(zerolog.WarnLevel, []byte("plain text line\n")); err != nil {
		t.Fatal(err)
	}
	got := onlyLine(t, buf)
	if got["msg"] != "plain text line" || got["level"] != "warning" {
		t.Errorf("got %v", got)
	}
}

func TestZerologTimestamp(t *testing.T) {
	l, buf := newJSONLogger(t)
	zl := zerolog.New(NewZerologWriter(l)).With().Timestamp().Logger()
	zl.Info().Msg("with time")
	got := onlyLine(t, buf)
	if _, clash := got["fields.time"]; clash {
		t.Errorf("zerolog time leaked as a field: %v", got)
	}
	if _, ok := got["time"].(string); !ok {
		t.Errorf("missing time: %v", got)
	}
}

func TestRedactLogrus(t *testing.T) {
	l, buf := newJSONLogger(t)
	l.WithFields(logrus.Fields{
		"password":                   "hunter2",
		"Access_Token":               "syt_abc",
		"token":                      "t",
		"shared_secret":              "s1",
		"REGISTRATION_SHARED_SECRET": "s2",
		"secret":                     "s3",
		"pickle_key":                 "pk",
		"recovery_key":               "rk",
		"as_token":                   "as",
		"macaroon_secret":            "ms",
		"db_password":                "dbpw",
		"hs-token":                   "hs",
		"user":                       "@bot:example.org",
		"token_count":                3,
		"config":                     map[string]any{"password": "nested", "name": "n"},
	}).Info("login")

	got := onlyLine(t, buf)
	for _, k := range []string{"password", "Access_Token", "token", "shared_secret", "REGISTRATION_SHARED_SECRET", "secret", "pickle_key", "recovery_key", "as_token", "macaroon_secret", "db_password", "hs-token"} {
		if got[k] != Redacted {
			t.Errorf("field %q = %v, want %s", k, got[k], Redacted)
		}
	}
	if got["user"] != "@bot:example.org" || got["token_count"] != float64(3) {
		t.Errorf("non-secret fields changed: %v", got)
	}
	if cfg, _ := got["config"].(map[string]any); cfg["password"] != Redacted || cfg["name"] != "n" {
		t.Errorf("nested config = %v", got["config"])
	}
	for _, secret := range []string{"hunter2", "syt_abc", "dbpw", "nested"} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("secret %q leaked: %s", secret, buf.String())
		}
	}
}

func TestRedactDoesNotModifyCallerEntry(t *testing.T) {
	l, buf := newJSONLogger(t)
	entry := l.WithField("password", "hunter2")
	entry.Info("one")
	if entry.Data["password"] != "hunter2" {
		t.Errorf("caller's entry was modified: %v", entry.Data)
	}
	if strings.Contains(buf.String(), "hunter2") {
		t.Errorf("secret leaked: %s", buf.String())
	}
}

func TestRedactBridged(t *testing.T) {
	check := func(t *testing.T, l *logrus.Logger, buf *bytes.Buffer) {
		t.Helper()
		zl := Zerolog(l)
		zl.Info().
			Str("access_token", "syt_secret").
			Str("Registration_Shared_Secret", "regsecret").
			Dict("login", zerolog.Dict().Str("password", "pw123").Str("user", "bot")).
			Str("device_id", "DEV").
			Msg("logged in")
		got := onlyLine(t, buf)
		if got["access_token"] != Redacted || got["Registration_Shared_Secret"] != Redacted {
			t.Errorf("secrets not redacted: %v", got)
		}
		login, _ := got["login"].(map[string]any)
		if login["password"] != Redacted || login["user"] != "bot" {
			t.Errorf("nested login = %v", got["login"])
		}
		if got["device_id"] != "DEV" {
			t.Errorf("device_id = %v", got["device_id"])
		}
		for _, secret := range []string{"syt_secret", "regsecret", "pw123"} {
			if strings.Contains(buf.String(), secret) {
				t.Errorf("secret %q leaked: %s", secret, buf.String())
			}
		}
	}
	t.Run("logger from New", func(t *testing.T) {
		l, buf := newJSONLogger(t)
		check(t, l, buf)
	})
	t.Run("plain logrus logger without hook", func(t *testing.T) {
		var buf bytes.Buffer
		l := logrus.New()
		l.SetOutput(&buf)
		l.SetFormatter(&logrus.JSONFormatter{})
		check(t, l, &buf)
	})
}

func TestIsSecretKey(t *testing.T) {
	for name, want := range map[string]bool{
		"password": true, "PASSWORD": true, "access_token": true, "token": true,
		"shared_secret": true, "registration_shared_secret": true, "secret": true,
		"pickle_key": true, "Recovery_Key": true, "as_token": true, "hs_token": true,
		"client_secret": true, "admin_password": true, "refresh-token": true,
		"user_id": false, "device_id": false, "tokens": false, "secretary": false,
		"key": false, "token_count": false, "": false,
	} {
		if got := IsSecretKey(name); got != want {
			t.Errorf("IsSecretKey(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestFormats(t *testing.T) {
	t.Run("json", func(t *testing.T) {
		var buf bytes.Buffer
		l, err := New(&buf, "info", "json")
		if err != nil {
			t.Fatal(err)
		}
		l.WithField("room", "!r:x").Info("hello")
		got := onlyLine(t, &buf)
		if got["msg"] != "hello" || got["level"] != "info" || got["room"] != "!r:x" {
			t.Errorf("got %v", got)
		}
	})
	t.Run("text", func(t *testing.T) {
		var buf bytes.Buffer
		l, err := New(&buf, "info", "text")
		if err != nil {
			t.Fatal(err)
		}
		l.WithField("room", "!r:x").WithField("password", "hunter2").Info("hello")
		out := buf.String()
		if json.Valid(bytes.TrimSpace(buf.Bytes())) {
			t.Errorf("text output is JSON: %s", out)
		}
		full := regexp.MustCompile(`time="\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}`)
		if !full.MatchString(out) {
			t.Errorf("text output lacks a full timestamp: %s", out)
		}
		for _, want := range []string{"level=info", "msg=hello", `room="!r:x"`, `password="[redacted]"`} {
			if !strings.Contains(out, want) {
				t.Errorf("text output %q lacks %q", out, want)
			}
		}
		if strings.Contains(out, "hunter2") {
			t.Errorf("secret leaked: %s", out)
		}
	})
	t.Run("defaults", func(t *testing.T) {
		var buf bytes.Buffer
		l, err := New(&buf, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if l.GetLevel() != logrus.InfoLevel {
			t.Errorf("default level = %v", l.GetLevel())
		}
		if _, ok := l.Formatter.(*logrus.TextFormatter); !ok {
			t.Errorf("default formatter = %T", l.Formatter)
		}
	})
	t.Run("case-insensitive", func(t *testing.T) {
		l, err := New(&bytes.Buffer{}, "DEBUG", "JSON")
		if err != nil {
			t.Fatal(err)
		}
		if l.GetLevel() != logrus.DebugLevel {
			t.Errorf("level = %v", l.GetLevel())
		}
	})
}

func TestNewReturnsIndependentLoggers(t *testing.T) {
	a, err := New(&bytes.Buffer{}, "debug", "json")
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(&bytes.Buffer{}, "error", "text")
	if err != nil {
		t.Fatal(err)
	}
	if a == b || a.GetLevel() == b.GetLevel() || a == logrus.StandardLogger() {
		t.Error("New must return distinct, non-global loggers")
	}
}

func TestBadLevelAndFormat(t *testing.T) {
	_, err := New(&bytes.Buffer{}, "verbose", "text")
	if err == nil || !strings.Contains(err.Error(), `"verbose"`) {
		t.Errorf("bad level: err = %v, want an error naming \"verbose\"", err)
	}
	_, err = New(&bytes.Buffer{}, "info", "xml")
	if err == nil || !strings.Contains(err.Error(), `"xml"`) {
		t.Errorf("bad format: err = %v, want an error naming \"xml\"", err)
	}
}
