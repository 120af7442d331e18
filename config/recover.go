package config

import (
	"bytes"
	"errors"
	"math"
	"regexp"
	"sort"

	"gopkg.in/yaml.v3"
)

// maxRecoveryRounds bounds how often a configuration with YAML syntax
// errors is patched and parsed again.
const maxRecoveryRounds = 20

// The recovery from syntax errors parses at most recoveryBudget bytes
// plus recoveryBudgetFactor times the size of the text, so that it stays
// fast for large files.
const (
	recoveryBudget       = 16 << 20
	recoveryBudgetFactor = 8
)

// The levels to which recovery neutralises a line. Each level keeps less
// of the line than the one before; levels that do not apply to a line or
// do not change it are skipped.
const (
	// levelDetab removes tabs from the indentation of the line.
	levelDetab = 1 + iota
	// levelKey keeps the indentation, list item indicators and mapping
	// key of the line, dropping its value.
	levelKey
	// levelIndicators keeps the indentation and list item indicators.
	levelIndicators
	// levelBlank keeps nothing but the line break.
	levelBlank
)

var (
	// keyLineRE matches a line starting with a simple mapping key; the
	// submatch is what levelKey keeps.
	keyLineRE = regexp.MustCompile(`^( *(?:- +)*[A-Za-z0-9_<][A-Za-z0-9_.</-]* *:)(?:[ \t:]|$)`)
	// indicatorsRE matches the indentation and list item indicators of a
	// line, which levelIndicators keeps.
	indicatorsRE = regexp.MustCompile(`^ *(?:- +)*`)
	// leadingTabsRE matches indentation that contains a tab.
	leadingTabsRE = regexp.MustCompile(`^[ \t]*\t[ \t]*`)
)

// recovery recovers from YAML syntax errors. It records each error as a
// problem, patches the offending lines (keeping the line count, so that
// line numbers stay valid) and parses again, until the text parses or it
// gives up. Most patches neutralise a line; a line that is merely
// indented wrongly may be re-indented instead.
type recovery struct {
	// file is the name of the file in problems.
	file string
	// orig holds the lines of the text to parse, with their line breaks.
	orig [][]byte
	// lines holds the lines as patched so far.
	lines [][]byte
	// level holds how far each line (index line-1) has been neutralised,
	// or 0.
	level []int
	// reindented holds the lines (index line-1) whose indentation was
	// changed.
	reindented []bool
	// problems holds the syntax problems found.
	problems []Problem
	// reported holds the lines with a syntax problem.
	reported map[int]bool
	// openers holds the lines starting a flow collection or quoted
	// scalar that a reported syntax problem lies in. Later errors inside
	// the same construct are taken as consequences of the first.
	openers map[int]bool
	// score, if set, rates the documents a patch recovers: the number
	// of problems they have outside patched lines, follow-up problems
	// included. Of the patches that make the text parse, the one with
	// the lowest score is chosen.
	score func(docs []*yaml.Node) int
	// budget is the number of bytes left to parse.
	budget int
}

// newRecovery prepares the recovery of data, which is read from file.
func newRecovery(file string, data []byte) *recovery {
	lines := bytes.SplitAfter(data, []byte("\n"))
	return &recovery{
		file:       file,
		orig:       lines,
		lines:      append([][]byte(nil), lines...),
		level:      make([]int, len(lines)),
		reindented: make([]bool, len(lines)),
		reported:   map[int]bool{},
		openers:    map[int]bool{},
		budget:     recoveryBudget + recoveryBudgetFactor*len(data),
	}
}

// errBudget is the error of parses beyond the budget.
var errBudget = errors.New("yaml: recovery budget exhausted")

// parse parses data, charging it to the budget.
func (r *recovery) parse(data []byte) ([]*yaml.Node, error) {
	r.budget -= len(data)
	return parseDocuments(data)
}

// tryParse is like parse, but fails with errBudget if the budget is
// exhausted.
func (r *recovery) tryParse(data []byte) ([]*yaml.Node, error) {
	if r.budget <= 0 {
		return nil, errBudget
	}
	return r.parse(data)
}

// run parses the text, patching lines with syntax errors until it
// parses. It returns the documents and true on success, or false if the
// text still does not parse after maxRecoveryRounds attempts or nothing
// is left to patch. The syntax problems are in r.problems.
func (r *recovery) run() ([]*yaml.Node, bool) {
	data := bytes.Join(r.lines, nil)
	docs, err := r.parse(data)
	for round := 0; err != nil; round++ {
		if round == maxRecoveryRounds || round > 0 && r.budget <= 0 {
			return nil, false
		}
		p := syntaxProblem(r.file, data, err, r.parse)
		if !r.consequence(p.Line, round) {
			r.problems = append(r.problems, p)
			r.reported[p.Line] = true
			r.openers[p.Line] = true
			if opener := scan(r.lines, p.Line).opener; opener > 0 {
				r.openers[opener] = true
			}
		}
		if !r.recoverAt(p.Line) {
			return nil, false
		}
		data = bytes.Join(r.lines, nil)
		docs, err = r.parse(data)
	}
	return docs, true
}

// consequence reports whether a syntax error at line, found in the given
// round, may be caused by an earlier error or by the recovery rather than
// by the line itself. Such errors are not reported.
func (r *recovery) consequence(line, round int) bool {
	if r.reported[line] || r.patched(line) {
		return true
	}
	if opener := scan(r.lines, line).opener; opener > 0 && r.openers[opener] {
		return true // in a construct with a reported error
	}
	if round == 0 {
		return false
	}
	if line > len(r.lines) || isBlank(r.lines[line-1]) {
		return true
	}
	// An error right after a blanked line, or further on in the block the
	// blanked line was part of, may come from the structure lost with it.
	indent := indentOf(r.orig[line-1])
	first := true
	for i := line - 1; i >= 1; i-- {
		orig := r.orig[i-1]
		if isBlank(orig) {
			continue
		}
		if r.level[i-1] == levelBlank {
			if blanked := indentOf(orig); first || blanked > 0 && blanked <= indent {
				return true
			}
		} else {
			indent = min(indent, indentOf(orig))
		}
		if first = false; indent == 0 {
			break
		}
	}
	return false
}

// patched reports whether line was changed by the recovery.
func (r *recovery) patched(line int) bool {
	return line >= 1 && line <= len(r.level) && (r.level[line-1] > 0 || r.reindented[line-1])
}

// patch is a candidate change of one line.
type patch struct {
	// line is the line to change.
	line int
	// text is the new text of the line, with its line break.
	text []byte
	// level is the level the patch neutralises the line to, or 0 if it
	// re-indents the line.
	level int
	// opener is set if the line starts a quote that is open up to the
	// blamed line.
	opener bool
}

// recoverAt patches the text for a syntax error at line. It reports
// whether anything changed.
//
// The error is blamed on line, or the nearest line with content before
// it. If that line lies in a flow collection that was left open on an
// earlier line and returns to the indentation of that line, the
// collection is neutralised instead. On later errors at a line that was
// patched before, it is neutralised further. Otherwise these patches are
// tried, in order of preference, and the best one is applied:
// re-indenting the line (for a line indented too much or too little);
// neutralising it; re-indenting the line before to match it (for a line
// before indented too little); dropping the value of the line before (if
// the line would continue it); neutralising the start of a quoted scalar
// left open up to the line; and blanking the line before.
func (r *recovery) recoverAt(line int) bool {
	n := r.contentBefore(min(line, len(r.lines)) + 1)
	if n < 1 {
		return false
	}
	st := scan(r.lines, n)
	if s := st.opener; s > 0 && s < n && !st.quoted {
		content, _ := splitBreak(r.lines[n-1])
		trimmed := bytes.TrimLeft(content, " ")
		closes := len(trimmed) > 0 && (trimmed[0] == ']' || trimmed[0] == '}')
		if !closes && indentOf(r.lines[n-1]) <= indentOf(r.lines[s-1]) {
			changed := r.neutralise(s, levelKey)
			for i := s + 1; i < n; i++ {
				changed = r.neutralise(i, levelBlank) || changed
			}
			if changed {
				return true
			}
		}
	}
	if r.patched(n) {
		return r.neutralise(n, levelDetab)
	}

	// The candidates, in order of preference.
	var candidates []patch
	p := r.contentBefore(n)
	fresh := func(line int) bool { return line > 0 && !r.patched(line) }
	for _, indent := range r.indentTargets(n) {
		candidates = append(candidates, patch{line: n, text: reindent(r.lines[n-1], indent)})
	}
	for level := levelDetab; ; {
		c, ok := r.next(n, level)
		if !ok {
			break
		}
		candidates = append(candidates, c)
		level = c.level + 1
	}
	if fresh(p) && leadingTabsRE.Find(r.lines[n-1]) == nil {
		prev := r.lines[p-1]
		indent := contentColumn(r.lines[n-1]) - len(leadingIndicators(prev))
		if isTopKey(prev) {
			indent = 0
		}
		if pp := r.contentBefore(p); indent >= 0 && indent != indentOf(prev) &&
			(isTopKey(prev) || !isTopKey(r.lines[n-1])) && (pp == 0 || canFollow(r.lines[pp-1], indent)) {
			candidates = append(candidates, patch{line: p, text: reindent(prev, indent)})
		}
		// A value on the line before a deeper indented line may be
		// what is wrong.
		if !canFollow(prev, indentOf(r.lines[n-1])) {
			if c, ok := r.next(p, levelKey); ok {
				candidates = append(candidates, c)
			}
		}
	}
	quote := st.spanned // a quote left open up to the blamed line
	if st.quoted {
		quote = st.opener
	}
	if fresh(quote) {
		if c, ok := r.next(quote, levelDetab); ok {
			c.opener = true
			candidates = append(candidates, c)
		}
	}
	if fresh(p) && !isTopKey(r.lines[p-1]) && indentOf(r.lines[n-1]) <= contentColumn(r.lines[p-1]) {
		if c, ok := r.next(p, levelBlank); ok {
			candidates = append(candidates, c)
		}
	}

	// Choose the candidate that gets the parser furthest, and of those
	// that make the text parse the one with the lowest score. A quote
	// left open up to the error is the likely cause, and other
	// candidates may only seem to get further, so neutralising its start
	// is chosen if that moves the error past the start (the lines it
	// swallowed, and the blamed line, may have errors of their own).
	var best patch
	bestReach, bestScore := -1, math.MaxInt
	for _, c := range candidates {
		if r.budget <= 0 {
			break
		}
		reach, score := r.try(c, n)
		if c.opener && reach > c.line {
			best, bestReach = c, reach
			break
		}
		if reach > bestReach || reach == math.MaxInt && score < bestScore {
			best, bestReach, bestScore = c, reach, score
		}
	}
	if bestReach < 0 {
		return r.neutralise(n, levelDetab)
	}
	r.apply(best)
	return true
}

// try returns the line of the first syntax error if p were applied, or
// math.MaxInt and the score of the documents if the text would parse. A
// patch that leaves a quote or bracket opened on its line or on the
// blamed line open is rejected with -1, as the parser would only seem to
// get further, and so is any patch once the budget is exhausted.
func (r *recovery) try(p patch, blamed int) (reach, score int) {
	i := p.line - 1
	line, level, reindented := r.lines[i], r.level[i], r.reindented[i]
	defer func() {
		r.lines[i], r.level[i], r.reindented[i] = line, level, reindented
	}()
	r.apply(p)
	for _, l := range []int{blamed, p.line} {
		if scan(r.lines, l+1).opener == l {
			return -1, 0 // it keeps a quote or bracket open
		}
	}
	data := bytes.Join(r.lines, nil)
	docs, err := r.tryParse(data)
	switch {
	case errors.Is(err, errBudget):
		return -1, 0
	case err != nil:
		// Beyond the budget, the line is only approximate; the
		// recovery ends after this round.
		return syntaxProblem(r.file, data, err, r.tryParse).Line, 0
	}
	if r.score != nil {
		r.budget -= len(data) // about what validation costs
		score = r.score(docs)
	}
	return math.MaxInt, score
}

// indentTargets returns the indentations to try for line n, which may be
// indented wrongly: column 0 for a top-level key; else the indentation
// of the last list item before it if it is a list item, and the column of
// the content of the line before it and that line's indentation.
func (r *recovery) indentTargets(n int) []int {
	line := r.lines[n-1]
	if isTopKey(line) {
		if indentOf(line) == 0 {
			return nil
		}
		return []int{0}
	}
	p := r.contentBefore(n)
	if p < 1 {
		return nil
	}
	prev := r.lines[p-1]
	var targets []int
	add := func(indent int) {
		if indent == indentOf(line) || !canFollow(prev, indent) {
			return
		}
		for _, t := range targets {
			if t == indent {
				return
			}
		}
		targets = append(targets, indent)
	}
	if len(leadingIndicators(line)) > 0 {
		for i := p; i >= 1; i = r.contentBefore(i) {
			if len(leadingIndicators(r.lines[i-1])) > 0 {
				add(indentOf(r.lines[i-1]))
				break
			}
		}
	}
	add(contentColumn(prev))
	add(indentOf(prev))
	return targets
}

// contentBefore returns the last line before line that has content other
// than white space and comments, or 0.
func (r *recovery) contentBefore(line int) int {
	for n := line - 1; n >= 1; n-- {
		if !isBlank(r.lines[n-1]) {
			return n
		}
	}
	return 0
}

// apply changes the text as p says and records the change.
func (r *recovery) apply(p patch) {
	r.lines[p.line-1] = p.text
	if p.level > 0 {
		r.level[p.line-1] = p.level
	} else {
		r.reindented[p.line-1] = true
	}
}

// neutralise neutralises line to the next level, not below minLevel,
// that changes it. It reports whether the line changed.
func (r *recovery) neutralise(line, minLevel int) bool {
	p, ok := r.next(line, minLevel)
	if ok {
		r.apply(p)
	}
	return ok
}

// next returns the patch neutralising line to the first level, not below
// minLevel, that is above its current level and changes it. It reports
// false if there is none.
func (r *recovery) next(line, minLevel int) (patch, bool) {
	i := line - 1
	if i < 0 || i >= len(r.lines) {
		return patch{}, false
	}
	content, lineBreak := splitBreak(r.orig[i])
	for level := max(r.level[i]+1, minLevel); level <= levelBlank; level++ {
		var kept []byte
		switch level {
		case levelDetab:
			tabs := leadingTabsRE.Find(content)
			if tabs == nil {
				continue
			}
			kept = append(bytes.ReplaceAll(tabs, []byte("\t"), nil), content[len(tabs):]...)
		case levelKey:
			m := keyLineRE.FindSubmatch(content)
			if m == nil {
				continue
			}
			kept = m[1]
		case levelIndicators:
			kept = bytes.TrimRight(indicatorsRE.Find(content), " ")
		}
		if level < levelBlank {
			// A line indented deeper than the value before it would
			// continue that value.
			if p := r.contentBefore(line); p > 0 && !canFollow(r.lines[p-1], indentOf(kept)) {
				continue
			}
		}
		text := append(append([]byte(nil), kept...), lineBreak...)
		if !bytes.Equal(text, r.lines[i]) {
			return patch{line: line, text: text, level: level}, true
		}
	}
	return patch{}, false
}

// reindent returns line with its indentation (including any tabs)
// replaced by indent spaces.
func reindent(line []byte, indent int) []byte {
	trimmed := bytes.TrimLeft(line, " \t")
	return append(bytes.Repeat([]byte(" "), indent), trimmed...)
}

// leadingIndicators returns the list item indicators at the start of
// line, after its indentation, with the spaces following them.
func leadingIndicators(line []byte) []byte {
	content, _ := splitBreak(line)
	return indicatorsRE.Find(content)[indentOf(content):]
}

// isTopKey reports whether line holds, without list item indicators,
// one of the keys of the top-level mapping, which belong in column 0.
// Keys that nested mappings have too (rooms, tenants) are taken as
// top-level keys only in column 0 or 1 and without list item indicators.
func isTopKey(line []byte) bool {
	content, _ := splitBreak(line)
	trimmed := bytes.TrimLeft(content, " \t")
	end := bytes.IndexByte(trimmed, ':')
	if end <= 0 {
		return false
	}
	key := string(trimmed[:end])
	if contains(nestedKeys, key) {
		return len(leadingIndicators(line)) == 0 && leadingTabsRE.Find(content) == nil && indentOf(content) <= 1
	}
	return contains(configKeys, key)
}

// nestedKeys are the keys of the top-level mapping that nested mappings
// have too.
var nestedKeys = []string{"rooms", "tenants"}

// canFollow reports whether a line indented by indent can follow line
// without continuing a scalar value on it.
func canFollow(line []byte, indent int) bool {
	content, _ := splitBreak(line)
	rest := content[len(indicatorsRE.Find(content)):]
	if m := keyLineRE.FindSubmatch(content); m != nil {
		rest = content[len(m[1]):]
	}
	rest = bytes.TrimLeft(rest, " \t")
	if len(rest) == 0 || bytes.IndexByte([]byte("#|>&!"), rest[0]) >= 0 {
		return true
	}
	return indent <= contentColumn(line)
}

// contentColumn returns the column (0-based) of the content of line after
// its indentation and list item indicators.
func contentColumn(line []byte) int {
	content, _ := splitBreak(line)
	return len(indicatorsRE.Find(content))
}

// damage describes the lines patched by the recovery from syntax
// errors in terms of the recovered document. The zero value describes no
// damage.
type damage struct {
	// containers holds the mappings and lists that held a patched line:
	// the innermost one the line lies in by indentation, and the
	// innermost one it lies in by position.
	containers map[*yaml.Node]bool
	// root is set if a patched line lies before the document's content.
	root bool
	// ends holds the last line of the extent of each node, which reaches
	// up to the next node that is not part of it.
	ends map[*yaml.Node]int
	// lines holds the patched lines in order.
	lines []int
	// patched holds the patched lines.
	patched map[int]bool
	// keys holds the keys of the patched lines that only lost their
	// value.
	keys map[int]string
}

// lostIn returns the patched lines between line first and the end of the
// extent of n.
func (dm damage) lostIn(first int, n *yaml.Node) []int {
	last, ok := dm.ends[n]
	if !ok {
		last = first
	}
	i := sort.SearchInts(dm.lines, first)
	j := sort.SearchInts(dm.lines, last+1)
	return dm.lines[i:max(i, j)]
}

// damage locates the patched lines in the document root. Lines from
// limit on (if limit > 0) belong to later documents and are ignored.
func (r *recovery) damage(root *yaml.Node, limit int) damage {
	dm := damage{
		containers: map[*yaml.Node]bool{},
		ends:       map[*yaml.Node]int{},
		patched:    map[int]bool{},
		keys:       map[int]string{},
	}
	last := len(r.lines)
	if limit > 0 {
		last = min(last, limit-1)
	}
	for i, level := range r.level {
		if (level > 0 || r.reindented[i]) && i+1 <= last {
			dm.lines = append(dm.lines, i+1)
			dm.patched[i+1] = true
			if level == levelKey && !r.reindented[i] {
				key := bytes.TrimSpace(bytes.TrimLeft(r.lines[i], " -"))
				dm.keys[i+1] = string(bytes.TrimSpace(bytes.TrimSuffix(key, []byte(":"))))
			}
		}
	}
	if len(dm.lines) == 0 {
		return dm
	}
	if root != nil && root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			root = nil
		} else {
			root = root.Content[0]
		}
	}

	// Flatten the tree in document order, with the parent and the size
	// of the subtree of each node.
	var (
		nodes   []*yaml.Node
		parents []int
		sizes   []int
		walk    func(n *yaml.Node, parent int) int
	)
	walk = func(n *yaml.Node, parent int) int {
		k := len(nodes)
		nodes = append(nodes, n)
		parents = append(parents, parent)
		sizes = append(sizes, 0)
		size := 1
		if n.Kind != yaml.AliasNode {
			for _, c := range n.Content {
				if c != nil {
					size += walk(c, k)
				}
			}
		}
		sizes[k] = size
		return size
	}
	if root != nil {
		walk(root, -1)
	}
	ends := make([]int, len(nodes))
	for k, n := range nodes {
		ends[k] = last
		if next := k + sizes[k]; next < len(nodes) {
			ends[k] = nodes[next].Line - 1
		}
		for _, c := range nodes[k : k+sizes[k]] {
			ends[k] = max(ends[k], c.Line)
		}
		dm.ends[n] = ends[k]
	}

	// The mappings and lists holding a line are the last node starting
	// at or before it and its ancestors, as far as they reach the line.
	for _, line := range dm.lines {
		k := sort.Search(len(nodes), func(k int) bool { return nodes[k].Line > line }) - 1
		for k >= 0 && (ends[k] < line || nodes[k].Kind != yaml.MappingNode && nodes[k].Kind != yaml.SequenceNode) {
			k = parents[k]
		}
		if k < 0 {
			dm.root = true
			continue
		}
		dm.containers[nodes[k]] = true // the innermost by position
		indent := indentOf(r.orig[line-1])
		for ; k >= 0; k = parents[k] {
			if n := nodes[k]; n.Line == line || n.Style&yaml.FlowStyle != 0 || indent >= n.Column-1 {
				dm.containers[n] = true // the innermost by indentation
				break
			}
		}
	}
	return dm
}

// splitBreak splits a line into its content and line break.
func splitBreak(line []byte) (content, lineBreak []byte) {
	switch {
	case bytes.HasSuffix(line, []byte("\r\n")):
		return line[:len(line)-2], line[len(line)-2:]
	case bytes.HasSuffix(line, []byte("\n")):
		return line[:len(line)-1], line[len(line)-1:]
	}
	return line, nil
}

// isBlank reports whether line holds nothing but white space and a
// comment.
func isBlank(line []byte) bool {
	content, _ := splitBreak(line)
	content = bytes.TrimLeft(content, " \t\r")
	return len(content) == 0 || content[0] == '#'
}

// indentOf returns the number of spaces line starts with.
func indentOf(line []byte) int {
	return len(line) - len(bytes.TrimLeft(line, " "))
}

// scanState is the state of the text at the start of a line, as found
// by scan.
type scanState struct {
	// opener is the line where the outermost flow collection or quoted
	// scalar still open began, or 0.
	opener int
	// quoted is set if that is a quoted scalar.
	quoted bool
	// spanned is the line where the last quoted scalar that ended on a
	// later line began, or 0.
	spanned int
}

// scan scans the lines before line with a simplified YAML tokenizer,
// which is good enough to choose lines to patch.
func scan(lines [][]byte, line int) scanState {
	var (
		st          scanState
		depth       int    // nesting of flow collections
		quote       byte   // the open quote, or 0
		quoteLine   int    // the line where the open quote began
		blockIndent = -1   // indentation of the line starting a block scalar
		atStart     = true // whether a node may start here
	)
	closeQuote := func(i int) {
		quote = 0
		if quoteLine < i+1 {
			st.spanned = quoteLine
		}
		if depth == 0 {
			st.opener, st.quoted = 0, false
		}
	}
	for i := 0; i < line-1 && i < len(lines); i++ {
		content, _ := splitBreak(lines[i])
		if blockIndent >= 0 {
			if isBlank(lines[i]) || indentOf(content) > blockIndent {
				continue
			}
			blockIndent = -1
		}
		if depth == 0 && quote == 0 {
			atStart = true
		}
	tokens:
		for j := 0; j < len(content); j++ {
			c := content[j]
			switch quote {
			case '"':
				if c == '\\' {
					j++
				} else if c == '"' {
					closeQuote(i)
				}
				continue
			case '\'':
				if c == '\'' {
					if j+1 < len(content) && content[j+1] == '\'' {
						j++
					} else {
						closeQuote(i)
					}
				}
				continue
			}
			spaceAfter := j+1 == len(content) || content[j+1] == ' ' || content[j+1] == '\t'
			switch {
			case c == '#' && (j == 0 || content[j-1] == ' ' || content[j-1] == '\t'):
				break tokens
			case c == ' ' || c == '\t':
			case atStart && (c == '"' || c == '\''):
				quote, quoteLine = c, i+1
				if depth == 0 {
					st.opener, st.quoted = i+1, true
				}
				atStart = false
			case atStart && (c == '[' || c == '{'):
				if depth == 0 {
					st.opener, st.quoted = i+1, false
				}
				depth++
			case atStart && depth == 0 && (c == '|' || c == '>'):
				blockIndent = indentOf(content)
				break tokens
			case atStart && (c == '&' || c == '!'):
				for j+1 < len(content) && content[j+1] != ' ' && content[j+1] != '\t' {
					j++
				}
			case atStart && (c == '-' || c == '?') && spaceAfter:
			case depth > 0 && (c == ']' || c == '}'):
				depth--
				if depth == 0 {
					st.opener = 0
				}
				atStart = false
			case depth > 0 && c == ',':
				atStart = true
			case c == ':' && (spaceAfter || depth > 0):
				atStart = true
			default:
				atStart = false
			}
		}
	}
	if depth == 0 && quote == 0 {
		st.opener, st.quoted = 0, false
	}
	return st
}
