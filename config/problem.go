package config

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one issue found while loading a configuration file.
type Problem struct {
	// File is the path of the configuration file as given to Load or Parse.
	File string
	// Line is the 1-based line the problem refers to.
	Line int
	// Field is the path of the offending field, e.g. "tenants[2].homeserver",
	// or "yaml" for syntax errors and "env" for environment references that
	// cannot be attributed to a field.
	Field string
	// Msg describes the problem. It never contains the content of secret
	// files.
	Msg string
}

// String formats the problem as "FILE:LINE: FIELD: MSG".
func (p Problem) String() string {
	return fmt.Sprintf("%s:%d: %s: %s", p.File, p.Line, p.Field, p.Msg)
}

// ValidationError is returned by Load and Parse when a configuration file
// has one or more problems. It lists every problem found, ordered by line.
type ValidationError struct {
	// Problems holds all problems, sorted by line.
	Problems []Problem
}

// Error joins all problems with newlines.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// sortProblems orders problems by line, keeping the discovery order of
// problems on the same line.
func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Line < ps[j].Line })
}
