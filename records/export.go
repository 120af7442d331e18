package records

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // the HTML shows times in the Land's time zone
	"unicode"

	"maunium.net/go/mautrix/id"
)

// ExportOptions say what Export selects and where it writes.
type ExportOptions struct {
	// Case selects the entries of one case; Room those of one room, by its
	// room ID ("!…") or its room key. Exactly one of them is set.
	Case CaseRef
	Room string
	// Dir is the folder written to; it is created if needed. Files of the
	// same name are replaced.
	Dir string
	// Now is the time of the export, stated in the HTML; time.Now() if
	// zero.
	Now time.Time
	// Location is the time zone of the HTML, Europe/Berlin if nil.
	Location *time.Location
}

// ExportResult says what Export wrote.
type ExportResult struct {
	// Entries is the number of entries exported.
	Entries int
	// Files are the files written, relative to the folder, in the order
	// written: JSONLinesFile, the attachments, one HTML file per case.
	Files []string
	// Verify is the verification of the whole chain, done first.
	Verify *Result
}

// Names of what Export writes into the folder.
const (
	// JSONLinesFile has one entry per line, in sequence order, in the JSON
	// form of Entry; each attachment also names its "file".
	JSONLinesFile = "entries.jsonl"
	// AttachmentDir holds the attachments, named SEQ-N-NAME.
	AttachmentDir = "anlagen"
)

// exportBatch is the number of entries Export reads at once.
const exportBatch = 256

// Export verifies the whole chain, then writes the entries of a case or a
// room into opts.Dir: JSONLinesFile, the attachments into AttachmentDir,
// and a readable HTML document per case, named after the case reference
// (characters other than letters, digits, '.', '-' and '_' become '_').
// The HTML states the verification, the first and last entry exported and
// the chain's head; it escapes every text of the messages and shows the
// formatted body only as escaped source, never as HTML. A broken chain is
// exported all the same and said so (ExportResult.Verify); the error is for
// failures to read or write. Nothing selected is not an error.
func Export(ctx context.Context, src Reader, opts ExportOptions) (*ExportResult, error) {
	q := Query{Case: opts.Case, Limit: exportBatch}
	switch {
	case (opts.Case == "") == (opts.Room == ""):
		return nil, errors.New("export: select either a case or a room")
	case strings.HasPrefix(opts.Room, "!"):
		q.RoomID = id.RoomID(opts.Room)
	case opts.Room != "":
		q.RoomKey = opts.Room
	}
	loc := opts.Location
	if loc == nil {
		var err error
		if loc, err = time.LoadLocation("Europe/Berlin"); err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	verified, err := Verify(ctx, src)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(opts.Dir, AttachmentDir), 0o750); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	x := &exporter{src: src, dir: opts.Dir, res: &ExportResult{Verify: verified}}

	lines, err := os.OpenFile(filepath.Join(opts.Dir, JSONLinesFile), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	defer lines.Close()
	x.res.Files = append(x.res.Files, JSONLinesFile)
	x.lines = bufio.NewWriter(lines)
	byCase := map[CaseRef][]htmlEntry{}
	for {
		batch, err := src.Records(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		for _, e := range batch {
			he, err := x.entry(ctx, e, loc)
			if err != nil {
				return nil, fmt.Errorf("export: entry %d: %w", e.Seq, err)
			}
			byCase[e.Case] = append(byCase[e.Case], he)
			q.After = e.Seq
		}
		if len(batch) < exportBatch {
			break
		}
	}
	if err := x.lines.Flush(); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := lines.Close(); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}

	selection := "Akte (case) " + string(opts.Case)
	if opts.Room != "" {
		selection = "Raum (room) " + opts.Room
	}
	cases := make([]CaseRef, 0, len(byCase))
	for c := range byCase {
		cases = append(cases, c)
	}
	slices.Sort(cases)
	used := map[string]bool{}
	for _, c := range cases {
		name := uniqueName(used, fileName(string(c), "akte")+".html")
		doc := htmlDoc{
			Case: c, Selection: selection, ExportedAt: formatTime(opts.Now, loc),
			Verify: verified, Head: verified.Head, Entries: byCase[c],
		}
		if err := x.writeHTML(name, doc); err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
	}
	return x.res, nil
}

// exporter carries what Export writes to.
type exporter struct {
	src   Reader
	dir   string
	lines *bufio.Writer
	res   *ExportResult
}

// jsonEntry is an entry as a line of JSONLinesFile.
type jsonEntry struct {
	Entry
	Attachments []jsonAttachment `json:"attachments"`
}

type jsonAttachment struct {
	Attachment
	// File is the attachment's file, relative to the export's folder.
	File string `json:"file"`
}

// htmlEntry is an entry as the HTML shows it.
type htmlEntry struct {
	Entry
	Sent, Filed string
	Files       []jsonAttachment
}

// entry writes e's attachments and its line of JSON and returns it for the
// HTML.
func (x *exporter) entry(ctx context.Context, e Entry, loc *time.Location) (htmlEntry, error) {
	e.FiledAt, e.SentAt = e.FiledAt.UTC(), e.SentAt.UTC()
	je := jsonEntry{Entry: e, Attachments: make([]jsonAttachment, len(e.Attachments))}
	for i, a := range e.Attachments {
		data, err := x.src.RecordAttachment(ctx, e.Seq, i)
		if err != nil {
			return htmlEntry{}, err
		}
		// path, not filepath: the name is also a link in the HTML.
		file := path.Join(AttachmentDir, fmt.Sprintf("%06d-%d-%s", e.Seq, i+1, fileName(a.Name, "anlage")))
		if err := os.WriteFile(filepath.Join(x.dir, filepath.FromSlash(file)), data, 0o640); err != nil {
			return htmlEntry{}, err
		}
		x.res.Files = append(x.res.Files, file)
		je.Attachments[i] = jsonAttachment{Attachment: a, File: file}
	}
	line, err := json.Marshal(je)
	if err != nil {
		return htmlEntry{}, err
	}
	if _, err := x.lines.Write(append(line, '\n')); err != nil {
		return htmlEntry{}, err
	}
	x.res.Entries++
	return htmlEntry{Entry: e, Sent: formatTime(e.SentAt, loc), Filed: formatTime(e.FiledAt, loc), Files: je.Attachments}, nil
}

//go:embed export.html.tmpl
var htmlSource string

var htmlTemplate = template.Must(template.New("export").Parse(htmlSource))

// htmlDoc is the data of the HTML document of one case.
type htmlDoc struct {
	Case       CaseRef
	Selection  string
	ExportedAt string
	Verify     *Result
	Head       Head
	Entries    []htmlEntry
}

// First and Last are the first and last entry of the document.
func (d htmlDoc) First() htmlEntry { return d.Entries[0] }
func (d htmlDoc) Last() htmlEntry  { return d.Entries[len(d.Entries)-1] }

func (x *exporter) writeHTML(name string, doc htmlDoc) error {
	f, err := os.OpenFile(filepath.Join(x.dir, name), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	err = htmlTemplate.Execute(w, doc)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	x.res.Files = append(x.res.Files, name)
	return nil
}

// formatTime writes t in loc as "20.11.2026 09:15:00 CET".
func formatTime(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("02.01.2006 15:04:05 MST")
}

// maxFileName bounds the names fileName makes, in bytes.
const maxFileName = 100

// fileName makes a safe file name of s: letters, digits, '.', '-' and '_'
// stay, everything else becomes '_'; no leading dot; at most maxFileName
// bytes; fallback if nothing is left.
func fileName(s, fallback string) string {
	var b strings.Builder
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '.' && r != '-' && r != '_' {
			r = '_'
		}
		if b.Len()+len(string(r)) > maxFileName {
			break
		}
		b.WriteRune(r)
	}
	name := strings.TrimLeft(b.String(), ".")
	if name == "" {
		return fallback
	}
	return name
}

// uniqueName returns name, or name with "-2", "-3", … before its extension
// if it is used already (ignoring case), and marks the result used.
func uniqueName(used map[string]bool, name string) string {
	ext := filepath.Ext(name)
	base := strings.TrimSuffix(name, ext)
	for i := 2; used[strings.ToLower(name)]; i++ {
		name = fmt.Sprintf("%s-%d%s", base, i, ext)
	}
	used[strings.ToLower(name)] = true
	return name
}
