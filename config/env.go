package config

import (
	"bytes"
	"fmt"
	"strings"
)

// envProblem is a problem found while expanding environment references.
type envProblem struct {
	line int
	msg  string
}

// expandEnv expands environment references in the raw configuration text.
//
// The supported forms are ${NAME}, ${NAME:-default} (the default is used
// when NAME is unset or empty) and $$ for a literal dollar sign. A "$"
// followed by anything else is kept as is. Expansion works line by line
// and never introduces line breaks, so line numbers of the expanded text
// match the original. YAML comments are copied verbatim, so they may
// mention references without them being expanded.
//
// References to unset variables without a default, values containing
// line breaks and malformed references are reported as problems and
// expand to the empty string.
func expandEnv(data []byte, lookup func(string) (string, bool)) ([]byte, []envProblem) {
	var (
		out      bytes.Buffer
		problems []envProblem
	)
	out.Grow(len(data))
	for i, line := range bytes.SplitAfter(data, []byte("\n")) {
		problems = append(problems, expandLine(&out, string(line), i+1, lookup)...)
	}
	return out.Bytes(), problems
}

// expandLine expands the references in one line (including its trailing
// newline, if any) and writes the result to out.
func expandLine(out *bytes.Buffer, line string, lineNo int, lookup func(string) (string, bool)) []envProblem {
	var (
		problems        []envProblem
		inSingle        bool
		inDouble        bool
		lastSignificant byte // last non-blank byte outside of quotes
		haveSignificant bool
		problemf        = func(format string, args ...any) {
			problems = append(problems, envProblem{line: lineNo, msg: fmt.Sprintf(format, args...)})
		}
	)
	for i := 0; i < len(line); {
		c := line[i]
		if c == '$' && i+1 < len(line) {
			switch line[i+1] {
			case '$':
				out.WriteByte('$')
				i += 2
				continue
			case '{':
				value, n, msg := expandRef(line[i:], lookup)
				if msg != "" {
					problemf("%s", msg)
				}
				out.WriteString(value)
				i += n
				continue
			}
		}
		switch {
		case inDouble:
			if c == '\\' && i+1 < len(line) {
				out.WriteString(line[i : i+2])
				i += 2
				continue
			}
			if c == '"' {
				inDouble = false
			}
		case inSingle:
			if c == '\'' {
				if i+1 < len(line) && line[i+1] == '\'' {
					out.WriteString("''")
					i += 2
					continue
				}
				inSingle = false
			}
		case c == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			// The rest of the line is a comment.
			out.WriteString(line[i:])
			return problems
		case (c == '"' || c == '\'') && (!haveSignificant || strings.IndexByte(":-[{,?", lastSignificant) >= 0):
			inDouble = c == '"'
			inSingle = c == '\''
		}
		if !inSingle && !inDouble && c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			lastSignificant, haveSignificant = c, true
		}
		out.WriteByte(c)
		i++
	}
	return problems
}

// expandRef expands the reference at the start of s, which starts with
// "${". It returns the replacement, the number of bytes of s consumed and a
// problem message ("" if there is none).
func expandRef(s string, lookup func(string) (string, bool)) (value string, n int, problem string) {
	// Find the matching "}", skipping nested references so that a nested
	// reference is reported as a whole.
	end, depth := -1, 0
	for i := 0; i < len(s) && end < 0; i++ {
		switch {
		case strings.HasPrefix(s[i:], "${"):
			depth++
			i++
		case s[i] == '}':
			depth--
			if depth == 0 {
				end = i
			}
		}
	}
	if end < 0 {
		rest := strings.TrimRight(s, "\r\n")
		return "", len(rest), fmt.Sprintf("unterminated environment reference %q (missing \"}\")", rest)
	}
	ref := s[:end+1]
	body := s[2:end]
	name, def, hasDefault := strings.Cut(body, ":-")
	switch {
	case !validEnvName(name):
		return "", len(ref), fmt.Sprintf("invalid environment reference %q (want ${NAME} or ${NAME:-default})", ref)
	case hasDefault && strings.Contains(def, "${"):
		return "", len(ref), fmt.Sprintf("nested environment reference in %q is not supported", ref)
	}
	v, ok := lookup(name)
	if !ok || v == "" {
		if hasDefault {
			return def, len(ref), ""
		}
		if !ok {
			return "", len(ref), fmt.Sprintf("environment variable %s is not set (use ${%s:-default} for a default)", name, name)
		}
	}
	if strings.ContainsAny(v, "\r\n") {
		return "", len(ref), fmt.Sprintf("environment variable %s contains a line break", name)
	}
	return v, len(ref), ""
}

// validEnvName reports whether name is a valid environment variable name:
// a letter or underscore followed by letters, digits and underscores.
func validEnvName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
