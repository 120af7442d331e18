package directory

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/landesmessenger/landesmessenger/config"
)

// fields are the keys of a person in a YAML file and the columns of a CSV
// file, in their canonical order.
var fields = []string{"id", "given_name", "surname", "office", "tenant", "unit", "role", "deputy"}

// requiredColumns are the CSV columns without which no record of the file
// could be valid.
var requiredColumns = []string{"id", "given_name", "surname", "tenant"}

// setField sets the field of p named by a key of fields.
func setField(p *Person, field, value string) {
	switch field {
	case "id":
		p.ID = PersonID(value)
	case "given_name":
		p.GivenName = value
	case "surname":
		p.Surname = value
	case "office":
		p.Office = value
	case "tenant":
		p.Tenant = config.TenantID(value)
	case "unit":
		p.Unit = value
	case "role":
		p.Role = Role(value)
	case "deputy":
		p.Deputy = PersonID(value)
	}
}

// SyntaxError reports that a file cannot be read as a whole, e.g. because
// of a YAML or CSV syntax error: the records after the error cannot be
// trusted, so none are returned.
type SyntaxError struct {
	// File is the path of the file.
	File string
	// Line is the 1-based line of the error, or 0 if it is not known.
	Line int
	// Msg describes the error.
	Msg string
	// Err is the underlying parser error, if any.
	Err error
}

// Error formats the error as "FILE:LINE: MSG", or "FILE: MSG" without a
// line.
func (e *SyntaxError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// Unwrap returns the underlying parser error.
func (e *SyntaxError) Unwrap() error {
	return e.Err
}

// file is a Source reading a YAML or CSV file.
type file struct {
	path string
}

// NewFile returns a source reading the people of the YAML (.yaml, .yml) or
// CSV (.csv) file at path. Problems name the file as path:line.
//
// A YAML file has a top-level "people" list of mappings with the keys id,
// given_name, surname, office, tenant, unit, role and deputy; a record with
// an unknown or repeated key, or a value that is not a single string, is
// skipped. A CSV file has a header row with those column names in any
// order, separated by ',' or ';'; unknown columns are reported at the header
// line and ignored, and a record with the wrong number of fields is
// skipped. Values are trimmed and IDs lowercased.
//
// Read returns an error, and no people, if the file cannot be read, has an
// unsupported extension, is not UTF-8, has a syntax error, has no people
// list or lacks one of the CSV columns id, given_name, surname and tenant.
func NewFile(path string) Source {
	return &file{path: path}
}

var _ Source = (*file)(nil)

// Name returns the path of the file.
func (f *file) Name() string {
	return f.path
}

// Read reads the file. See NewFile.
func (f *file) Read(ctx context.Context) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	data, err := os.ReadFile(f.path)
	if err != nil {
		return Result{}, fmt.Errorf("read people: %w", err)
	}
	return parseFile(f.path, data)
}

// parseFile parses the contents of a people file named name, choosing the
// format by the extension of name.
func parseFile(name string, data []byte) (Result, error) {
	if !utf8.Valid(data) {
		line := 1 + bytes.Count(data[:invalidUTF8(data)], []byte("\n"))
		return Result{}, &SyntaxError{File: name, Line: line, Msg: "not UTF-8; save the file as UTF-8"}
	}
	var (
		people   []Person
		problems []Problem
		err      error
	)
	switch ext := strings.ToLower(filepath.Ext(name)); ext {
	case ".yaml", ".yml":
		people, problems, err = parseYAML(name, data)
	case ".csv":
		people, problems, err = parseCSV(name, data)
	default:
		return Result{}, fmt.Errorf("%s: unsupported file type %q, want .yaml, .yml or .csv", name, ext)
	}
	if err != nil {
		return Result{}, err
	}
	for i := range people {
		people[i] = normalize(people[i])
	}
	people, dups := dedupe(people)
	sortByID(people)
	return Result{People: people, Problems: append(problems, dups...)}, nil
}

// invalidUTF8 returns the offset of the first invalid UTF-8 sequence in
// data.
func invalidUTF8(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(data)
}

// yamlErrorRE matches the position prefix of yaml.v3 error messages.
var yamlErrorRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlSyntaxError converts a yaml.v3 decoding error into a SyntaxError.
func yamlSyntaxError(name string, err error) *SyntaxError {
	e := &SyntaxError{File: name, Msg: err.Error(), Err: err}
	if m := yamlErrorRE.FindStringSubmatch(e.Msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = m[2]
	}
	return e
}

// maxAliasDepth bounds the chains of YAML aliases followed.
const maxAliasDepth = 16

// resolve follows YAML aliases from n to the node they stand for. It
// returns nil for an alias chain longer than maxAliasDepth.
func resolve(n *yaml.Node) *yaml.Node {
	for range maxAliasDepth {
		if n == nil || n.Kind != yaml.AliasNode {
			return n
		}
		n = n.Alias
	}
	return nil
}

// parseYAML parses a YAML people file.
func parseYAML(name string, data []byte) ([]Person, []Problem, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, &SyntaxError{File: name, Msg: "empty file, want a people list"}
		}
		return nil, nil, yamlSyntaxError(name, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, nil, yamlSyntaxError(name, err)
	default:
		return nil, nil, &SyntaxError{File: name, Line: next.Line, Msg: "more than one YAML document"}
	}

	pos := func(n *yaml.Node) string { return name + ":" + strconv.Itoa(n.Line) }
	if len(doc.Content) != 1 {
		return nil, nil, &SyntaxError{File: name, Msg: "empty file, want a people list"}
	}
	root := resolve(doc.Content[0])
	if root == nil || root.Kind != yaml.MappingNode {
		return nil, nil, &SyntaxError{File: name, Line: doc.Content[0].Line, Msg: "want a mapping with a people list"}
	}
	var (
		list     *yaml.Node
		problems []Problem
	)
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, value := resolve(root.Content[i]), root.Content[i+1]
		if key == nil || key.Kind != yaml.ScalarNode || key.Value != "people" {
			problems = append(problems, Problem{Source: pos(root.Content[i]), Msg: "unknown key " + keyName(key) + ", want people"})
			continue
		}
		if list != nil {
			return nil, nil, &SyntaxError{File: name, Line: key.Line, Msg: fmt.Sprintf("second people list, the first is at line %d", list.Line)}
		}
		list = resolve(value)
		if list == nil || list.Kind != yaml.SequenceNode {
			return nil, nil, &SyntaxError{File: name, Line: value.Line, Msg: "people must be a list of mappings"}
		}
	}
	if list == nil {
		return nil, nil, &SyntaxError{File: name, Line: root.Line, Msg: "no people list"}
	}

	var people []Person
	for _, item := range list.Content {
		record := resolve(item)
		if record == nil || record.Kind != yaml.MappingNode {
			problems = append(problems, Problem{Source: pos(item), Msg: "want a mapping with the keys " + strings.Join(fields, ", ")})
			continue
		}
		p := Person{Source: pos(item)}
		bad := false
		seen := map[string]bool{}
		for i := 0; i+1 < len(record.Content); i += 2 {
			key, value := resolve(record.Content[i]), resolve(record.Content[i+1])
			var msg string
			switch {
			case key == nil || key.Kind != yaml.ScalarNode || !slices.Contains(fields, key.Value):
				msg = "unknown key " + keyName(key) + ", want one of " + strings.Join(fields, ", ")
			case seen[key.Value]:
				msg = fmt.Sprintf("duplicate key %q", key.Value)
			case value == nil || value.Kind != yaml.ScalarNode:
				msg = fmt.Sprintf("%s must be a single value", key.Value)
			}
			if msg != "" {
				problems = append(problems, Problem{Source: pos(record.Content[i]), Msg: msg})
				bad = true
				continue
			}
			seen[key.Value] = true
			if value.Tag != "!!null" {
				setField(&p, key.Value, value.Value)
			}
		}
		if !bad {
			people = append(people, p)
		}
	}
	return people, problems, nil
}

// keyName quotes a mapping key for a problem message.
func keyName(key *yaml.Node) string {
	if key == nil || key.Kind != yaml.ScalarNode {
		return "that is not a string"
	}
	return strconv.Quote(key.Value)
}

// parseCSV parses a CSV people file.
func parseCSV(name string, data []byte) ([]Person, []Problem, error) {
	data = bytes.TrimPrefix(data, []byte("\uFEFF")) // byte order mark written by spreadsheets
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = csvDelimiter(data)
	r.FieldsPerRecord = -1
	syntaxError := func(err error) *SyntaxError {
		e := &SyntaxError{File: name, Msg: err.Error(), Err: err}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			e.Line, e.Msg = pe.StartLine, pe.Err.Error()
		}
		return e
	}

	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil, &SyntaxError{File: name, Msg: "empty file, want a header row with the columns " + strings.Join(fields, ", ")}
	}
	if err != nil {
		return nil, nil, syntaxError(err)
	}
	headerLine, _ := r.FieldPos(0)
	var (
		problems []Problem
		unknown  []string
		columns  = make([]string, len(header)) // field of each column, "" if unknown
		index    = map[string]int{}
	)
	for i, h := range header {
		col := strings.ToLower(strings.TrimSpace(h))
		switch {
		case slices.Contains(fields, col):
			if first, ok := index[col]; ok {
				return nil, nil, &SyntaxError{File: name, Line: headerLine, Msg: fmt.Sprintf("column %q is both column %d and %d", col, first+1, i+1)}
			}
			index[col] = i
			columns[i] = col
		case col == "":
			problems = append(problems, Problem{Source: fmt.Sprintf("%s:%d", name, headerLine), Msg: fmt.Sprintf("column %d has no name and is ignored", i+1)})
		default:
			unknown = append(unknown, strconv.Quote(col))
			problems = append(problems, Problem{Source: fmt.Sprintf("%s:%d", name, headerLine), Msg: fmt.Sprintf("unknown column %q is ignored, want one of %s", col, strings.Join(fields, ", "))})
		}
	}
	for _, col := range requiredColumns {
		if _, ok := index[col]; !ok {
			msg := fmt.Sprintf("no column %q", col)
			if len(unknown) > 0 {
				msg += " (unknown columns: " + strings.Join(unknown, ", ") + ")"
			}
			return nil, nil, &SyntaxError{File: name, Line: headerLine, Msg: msg}
		}
	}

	var people []Person
	for {
		record, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, syntaxError(err)
		}
		line, _ := r.FieldPos(0)
		source := fmt.Sprintf("%s:%d", name, line)
		if len(record) != len(header) {
			problems = append(problems, Problem{Source: source, Msg: fmt.Sprintf("has %d fields, want %d as in the header", len(record), len(header))})
			continue
		}
		p := Person{Source: source}
		for i, value := range record {
			if columns[i] != "" {
				setField(&p, columns[i], value)
			}
		}
		people = append(people, p)
	}
	return people, problems, nil
}

// csvDelimiter returns ';' if the first line of data has semicolons but no
// commas, as spreadsheets with German settings write, and ',' otherwise.
func csvDelimiter(data []byte) rune {
	first, _, _ := bytes.Cut(data, []byte("\n"))
	if bytes.ContainsRune(first, ';') && !bytes.ContainsRune(first, ',') {
		return ';'
	}
	return ','
}
