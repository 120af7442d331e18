package bridge

import (
	"bytes"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
	"github.com/microcosm-cc/bluemonday"
	"maunium.net/go/mautrix/format"
)

// Attachment is a file of a message, both ways.
type Attachment struct {
	Name     string
	MIMEType string
	Data     []byte
}

// Outgoing is a Matrix message as a mail to the schools of a room.
type Outgoing struct {
	// RoomName and RoomAddress are the room's name and mail address; the
	// mail comes from the room's address in the sender's name.
	RoomName, RoomAddress string
	// SenderName is the Matrix sender's display name (never the Matrix ID).
	SenderName string
	To         []string
	Subject    string
	Text, HTML string
	// Attachments are sent as they are.
	Attachments []Attachment
	// MessageID is the mail's Message-ID (MessageIDFor); InReplyTo and
	// References thread it.
	MessageID  string
	InReplyTo  string
	References []string
	Date       time.Time
	// Notice marks a mail the bridge writes itself (not a person's
	// message): only such a mail says `Auto-Submitted: auto-generated`
	// (RFC 3834), so that schools' mail systems answer people's mail as
	// they answer any other.
	Notice bool
}

// MessageIDFor returns the Message-ID of the mail of a Matrix event: the
// same event always gets the same ID, so a mail sent again after a crash
// is recognisably the same mail.
func MessageIDFor(eventID, domain string) string {
	sum := sha256.Sum256([]byte(eventID))
	return "<" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:20])) + "@" + domain + ">"
}

// Bytes renders o as an RFC 5322 message: multipart/alternative text and
// HTML, in multipart/mixed with the attachments if there are any.
func (o *Outgoing) Bytes() ([]byte, error) {
	if o.RoomAddress == "" || len(o.To) == 0 || o.MessageID == "" {
		return nil, errors.New("mail: room address, recipients and Message-ID are required")
	}
	var buf bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&buf, "%s: %s\r\n", k, v) }
	from := mail.Address{Name: fmt.Sprintf("%s via %s", o.SenderName, o.RoomName), Address: o.RoomAddress}
	h("From", from.String())
	h("Reply-To", (&mail.Address{Name: o.RoomName, Address: o.RoomAddress}).String())
	var to []string
	for _, a := range o.To {
		to = append(to, (&mail.Address{Address: a}).String())
	}
	h("To", strings.Join(to, ", "))
	h("Subject", mime.QEncoding.Encode("utf-8", o.Subject))
	date := o.Date
	if date.IsZero() {
		date = time.Now()
	}
	h("Date", date.Format(time.RFC1123Z))
	h("Message-ID", o.MessageID)
	if o.InReplyTo != "" {
		h("In-Reply-To", o.InReplyTo)
	}
	if len(o.References) > 0 {
		h("References", strings.Join(o.References, " "))
	}
	h("MIME-Version", "1.0")
	if o.Notice {
		h("Auto-Submitted", "auto-generated")
	}

	alt := func(w *multipart.Writer) error {
		// The HTML a Matrix client wrote is sanitised before it leaves:
		// no remote images (tracking pixels), scripts or styles.
		for _, part := range []struct{ typ, body string }{{"text/plain", o.Text}, {"text/html", SanitizeHTML(o.HTML)}} {
			if part.body == "" && part.typ == "text/html" {
				continue
			}
			pw, err := w.CreatePart(textproto.MIMEHeader{
				"Content-Type":              {part.typ + "; charset=utf-8"},
				"Content-Transfer-Encoding": {"quoted-printable"},
			})
			if err != nil {
				return err
			}
			qw := quotedprintable.NewWriter(pw)
			if _, err := qw.Write([]byte(part.body)); err != nil {
				return err
			}
			if err := qw.Close(); err != nil {
				return err
			}
		}
		return w.Close()
	}
	if len(o.Attachments) == 0 {
		w := multipart.NewWriter(&buf)
		h("Content-Type", "multipart/alternative; boundary="+w.Boundary())
		buf.WriteString("\r\n")
		if err := alt(w); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	mixed := multipart.NewWriter(&buf)
	h("Content-Type", "multipart/mixed; boundary="+mixed.Boundary())
	buf.WriteString("\r\n")
	boundary := multipart.NewWriter(io.Discard).Boundary()
	pw, err := mixed.CreatePart(textproto.MIMEHeader{"Content-Type": {"multipart/alternative; boundary=" + boundary}})
	if err != nil {
		return nil, err
	}
	inner := multipart.NewWriter(pw)
	if err := inner.SetBoundary(boundary); err != nil {
		return nil, err
	}
	if err := alt(inner); err != nil {
		return nil, err
	}
	for _, a := range o.Attachments {
		typ := a.MIMEType
		if typ == "" {
			typ = "application/octet-stream"
		}
		pw, err := mixed.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {mime.FormatMediaType(typ, map[string]string{"name": a.Name})},
			"Content-Disposition":       {mime.FormatMediaType("attachment", map[string]string{"filename": a.Name})},
			"Content-Transfer-Encoding": {"base64"},
		})
		if err != nil {
			return nil, err
		}
		enc := base64.NewEncoder(base64.StdEncoding, &lineWriter{w: pw})
		if _, err := enc.Write(a.Data); err != nil {
			return nil, err
		}
		if err := enc.Close(); err != nil {
			return nil, err
		}
	}
	if err := mixed.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// lineWriter breaks base64 into lines of 76 characters.
type lineWriter struct {
	w   io.Writer
	col int
}

func (l *lineWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		chunk := min(76-l.col, len(p))
		if _, err := l.w.Write(p[:chunk]); err != nil {
			return n, err
		}
		n += chunk
		l.col += chunk
		p = p[chunk:]
		if l.col == 76 {
			if _, err := l.w.Write([]byte("\r\n")); err != nil {
				return n, err
			}
			l.col = 0
		}
	}
	return n, nil
}

// Incoming is a mail received for a room.
type Incoming struct {
	From      string // bare address, lowercase
	FromName  string
	To        []string
	Subject   string
	MessageID string
	// InReplyTo is the Message-ID the mail answers; References its thread.
	InReplyTo  string
	References []string
	// Text is the plain text (from the HTML if the mail has none); HTML the
	// HTML part, "" if none.
	Text, HTML  string
	Attachments []Attachment
	Date        time.Time
}

// Limits bound incoming mail.
type Limits struct {
	// MaxAttachment is the largest attachment in bytes.
	MaxAttachment int64
	// MaxParts is the largest number of MIME parts.
	MaxParts int
}

// ErrMalformed is wrapped by every error about a mail that cannot be
// read; the SMTP server refuses such mail with the reason.
var ErrMalformed = errors.New("malformed mail")

// ParseIncoming reads a mail. Errors wrap ErrMalformed and say why.
func ParseIncoming(r io.Reader, lim Limits) (*Incoming, error) {
	msg, err := mail.ReadMessage(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	in := &Incoming{}
	// One From, as RFC 5322 says: with two, a DKIM signature may cover one
	// while the room would show the other.
	if n := len(msg.Header["From"]); n > 1 {
		return nil, fmt.Errorf("%w: %d From headers (want one)", ErrMalformed, n)
	}
	from, err := mail.ParseAddress(msg.Header.Get("From"))
	if err != nil {
		return nil, fmt.Errorf("%w: From: %v", ErrMalformed, err)
	}
	in.From, in.FromName = strings.ToLower(from.Address), from.Name
	if to, err := msg.Header.AddressList("To"); err == nil {
		for _, a := range to {
			in.To = append(in.To, strings.ToLower(a.Address))
		}
	}
	dec := &mime.WordDecoder{CharsetReader: charset.Reader}
	if in.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		in.Subject = msg.Header.Get("Subject")
	}
	in.MessageID = strings.TrimSpace(msg.Header.Get("Message-ID"))
	in.InReplyTo = firstID(msg.Header.Get("In-Reply-To"))
	in.References = strings.Fields(msg.Header.Get("References"))
	if d, err := msg.Header.Date(); err == nil {
		in.Date = d
	}
	if in.MessageID == "" {
		return nil, fmt.Errorf("%w: no Message-ID", ErrMalformed)
	}
	parts := 0
	if err := in.walk(textproto.MIMEHeader(msg.Header), msg.Body, lim, &parts, 0); err != nil {
		return nil, err
	}
	if in.Text == "" && in.HTML != "" {
		in.Text = strings.TrimSpace(format.HTMLToText(SanitizeHTML(in.HTML)))
	}
	if !utf8.ValidString(in.Text) || !utf8.ValidString(in.HTML) {
		return nil, fmt.Errorf("%w: text is not valid UTF-8 after decoding", ErrMalformed)
	}
	return in, nil
}

// walk reads one MIME entity.
func (in *Incoming) walk(h textproto.MIMEHeader, body io.Reader, lim Limits, parts *int, depth int) error {
	*parts++
	if lim.MaxParts > 0 && *parts > lim.MaxParts || depth > 10 {
		return fmt.Errorf("%w: too many or too deeply nested MIME parts", ErrMalformed)
	}
	ctype := h.Get("Content-Type")
	if ctype == "" {
		ctype = "text/plain; charset=us-ascii"
	}
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return fmt.Errorf("%w: Content-Type %q: %v", ErrMalformed, ctype, err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("%w: %s: %v", ErrMalformed, mt, err)
			}
			if err := in.walk(p.Header, p, lim, parts, depth+1); err != nil {
				return err
			}
		}
	}
	data, err := decodeBody(h.Get("Content-Transfer-Encoding"), body, lim.MaxAttachment)
	if err != nil {
		return err
	}
	disp, dparams, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	// Mail programs still name files in RFC 2047 words inside the
	// parameter ("=?ISO-8859-1?Q?Gr=FC=DFe.pdf?=").
	if decoded, err := (&mime.WordDecoder{CharsetReader: charset.Reader}).DecodeHeader(name); err == nil {
		name = decoded
	}
	if disp == "attachment" || name != "" || !strings.HasPrefix(mt, "text/") {
		if name == "" {
			name = "anlage"
		}
		in.Attachments = append(in.Attachments, Attachment{Name: name, MIMEType: mt, Data: data})
		return nil
	}
	text, err := toUTF8(data, params["charset"])
	if err != nil {
		return err
	}
	switch {
	case mt == "text/html" && in.HTML == "":
		in.HTML = text
	case mt == "text/plain" && in.Text == "":
		in.Text = strings.TrimRight(strings.ReplaceAll(text, "\r\n", "\n"), " \t\n")
	}
	return nil
}

func decodeBody(cte string, r io.Reader, max int64) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, &stripSpace{r: r})
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "", "7bit", "8bit", "binary":
	default:
		return nil, fmt.Errorf("%w: unknown Content-Transfer-Encoding %q", ErrMalformed, cte)
	}
	if max <= 0 {
		max = 1 << 30
	}
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%w: a part is larger than %d bytes", ErrTooLarge, max)
	}
	return data, nil
}

// ErrTooLarge is wrapped by errors about a mail or attachment over the
// limits.
var ErrTooLarge = errors.New("too large")

// stripSpace drops whitespace, which base64 bodies carry between lines.
type stripSpace struct{ r io.Reader }

func (s *stripSpace) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	j := 0
	for _, c := range p[:n] {
		if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
			p[j] = c
			j++
		}
	}
	return j, err
}

// toUTF8 converts text in the charset label to UTF-8 with go-message's
// charset package (the WHATWG encodings: windows-1252, ISO-8859-x, …).
func toUTF8(data []byte, label string) (string, error) {
	switch strings.ToLower(label) {
	case "", "utf-8", "utf8", "us-ascii", "ascii":
		if !utf8.Valid(data) {
			return "", fmt.Errorf("%w: text is not valid %s", ErrMalformed, charsetName(label))
		}
		return string(data), nil
	}
	r, err := charset.Reader(label, bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("%w: unsupported charset %q", ErrMalformed, label)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return "", fmt.Errorf("%w: text is not valid %s: %v", ErrMalformed, label, err)
	}
	return string(out), nil
}

// mailPolicy is what HTML of a Matrix message may keep in a mail: text
// formatting, lists, quotes, code and links; never images (remote images
// are tracking pixels), scripts, styles, forms or frames.
var mailPolicy = func() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements("p", "br", "b", "strong", "i", "em", "u", "s", "del", "strike", "sub", "sup", "hr",
		"h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "code", "pre", "span", "div",
		"table", "thead", "tbody", "tr", "th", "td")
	p.AllowAttrs("href").OnElements("a")
	p.AllowURLSchemes("https", "http", "mailto")
	p.RequireParseableURLs(true)
	p.RequireNoFollowOnLinks(true)
	return p
}()

// SanitizeHTML returns html as a mail may carry it (mailPolicy).
func SanitizeHTML(html string) string {
	if html == "" {
		return ""
	}
	return mailPolicy.Sanitize(html)
}

func charsetName(c string) string {
	if c == "" {
		return "UTF-8"
	}
	return c
}

func firstID(s string) string {
	if i := strings.Index(s, "<"); i >= 0 {
		if j := strings.Index(s[i:], ">"); j > 0 {
			return s[i : i+j+1]
		}
	}
	return strings.TrimSpace(s)
}

var (
	attributionRE = regexp.MustCompile(`(?m)^(On .+ wrote:|Am .+ schrieb .+:|-----\s*(Original Message|Ursprüngliche Nachricht)\s*-----)\s*$`)
)

// StripQuotes removes quoted history (lines starting with ">", and
// everything from an attribution line such as "Am … schrieb …:" or
// "-----Ursprüngliche Nachricht-----") and the signature (from a line "-- ")
// from a plain-text reply.
func StripQuotes(text string) string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	if loc := attributionRE.FindStringIndex(text); loc != nil {
		text = text[:loc[0]]
	}
	if i := strings.Index(text, "\n-- \n"); i >= 0 {
		text = text[:i]
	} else if strings.HasPrefix(text, "-- \n") {
		text = ""
	}
	var keep []string
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, ">") {
			keep = append(keep, line)
		}
	}
	return strings.TrimSpace(strings.Join(keep, "\n"))
}
