package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// Gate is the federation gate: a reverse proxy in front of the federation
// listener of a homeserver that cannot enforce the federation list itself
// (Dendrite has no federation allow-list). It passes
//
//   - GET /_matrix/key/v2/server (and .../server/KEYID) and GET
//     /_matrix/federation/v1/version without authentication, since servers
//     must fetch each other's signing keys and version before they can
//     authenticate; notary key queries (/_matrix/key/v2/query) are refused,
//     since they make the homeserver fetch keys from servers the caller
//     names;
//   - a request under /_matrix/federation/ whose X-Matrix Authorization
//     header names an origin the list admits: a partner of Self (each names
//     the other), or, if Self is external, a server that is not on the list.
//
// It refuses with 401 a federation request without a well-formed X-Matrix
// header, with 403 M_FORBIDDEN one from an origin the list does not admit
// and every authenticated request while List returns nil (no valid list:
// fail closed), and it answers 404 to every other path. Requests under
// /_matrix/media/ are refused: over federation they are the unauthenticated
// legacy media download, which would hand any server the media of the
// Land's rooms; servers fetch media through the authenticated
// /_matrix/federation/v1/media/ endpoints, which the origin rule covers.
//
// The gate does not verify the request's signature: the homeserver behind
// it does, against the origin's published keys, so a request that claims a
// partner's name without that partner's key passes the gate and then fails
// at the homeserver. So that the homeserver checks the very origin the gate
// admitted, the gate parses the X-Matrix header strictly (only origin,
// destination, key and sig, each once, values without , = " \ or blanks)
// and forwards only the header it rebuilt from those fields: Dendrite's
// parser splits on every comma and lets the last origin win, so a header
// that reads one way to an RFC parser and another way to Dendrite would
// otherwise show the gate a partner and Dendrite an outsider.
//
// The fields must not change once the gate serves requests.
type Gate struct {
	// Self is the server name of the homeserver behind the gate.
	Self ServerName
	// Upstream is the base URL of the homeserver's federation listener.
	Upstream *url.URL
	// List returns the list in force, or nil when there is none. It is
	// called once for every authenticated request and must be safe for
	// concurrent use (Watcher.List is).
	List func() *List
	// Log receives a warning for every refused request.
	Log logrus.FieldLogger
	// Transport makes the requests to Upstream; nil means
	// http.DefaultTransport.
	Transport http.RoundTripper

	once  sync.Once
	proxy *httputil.ReverseProxy
}

// Paths the gate knows.
const (
	keyPrefix        = "/_matrix/key/"
	serverKeyPath    = "/_matrix/key/v2/server"
	keyQueryPrefix   = "/_matrix/key/v2/query"
	federationPrefix = "/_matrix/federation/"
	mediaPrefix      = "/_matrix/media/"
	versionPath      = "/_matrix/federation/v1/version"
)

// isServerKeyRequest reports whether r fetches the homeserver's own keys:
// GET /_matrix/key/v2/server or /_matrix/key/v2/server/KEYID.
func isServerKeyRequest(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	p := r.URL.Path
	if p == serverKeyPath || p == serverKeyPath+"/" {
		return true
	}
	rest, ok := strings.CutPrefix(p, serverKeyPath+"/")
	return ok && rest != "" && !strings.Contains(rest, "/")
}

// ServeHTTP decides on one request and proxies it or answers it.
func (g *Gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.once.Do(g.init)
	p := r.URL.Path
	switch {
	case hasDotSegment(p):
		// The homeserver may resolve "..", so a path like
		// /_matrix/key/../federation/... would slip past the rules.
		g.refuse(w, r, "", http.StatusBadRequest, "M_UNRECOGNIZED", "paths with . or .. segments are refused")
	case isServerKeyRequest(r), p == versionPath && r.Method == http.MethodGet:
		g.proxy.ServeHTTP(w, r)
	case strings.HasPrefix(p, keyQueryPrefix):
		g.refuse(w, r, "", http.StatusForbidden, "M_FORBIDDEN", "notary key queries are refused: fetch a server's keys from that server (GET /_matrix/key/v2/server)")
	case strings.HasPrefix(p, keyPrefix):
		writeError(w, http.StatusNotFound, "M_UNRECOGNIZED", "unrecognized request")
	case strings.HasPrefix(p, federationPrefix):
		g.authenticated(w, r)
	case strings.HasPrefix(p, mediaPrefix):
		g.refuse(w, r, "", http.StatusForbidden, "M_FORBIDDEN", "unauthenticated media requests are refused: use /_matrix/federation/v1/media/")
	default:
		writeError(w, http.StatusNotFound, "M_UNRECOGNIZED", "unrecognized request")
	}
}

func (g *Gate) init() {
	g.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(g.Upstream)
			// Keep the Host the origin asked for: the homeserver sees
			// the request as the origin sent and signed it.
			r.Out.Host = r.In.Host
		},
		Transport: g.Transport,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			g.log().WithFields(logrus.Fields{"path": r.URL.Path, "error": err.Error()}).Error("federation gate: upstream unreachable")
			writeError(w, http.StatusBadGateway, "M_UNKNOWN", "the homeserver behind the federation gate is unreachable")
		},
	}
}

// authenticated passes a federation request whose origin the list admits.
func (g *Gate) authenticated(w http.ResponseWriter, r *http.Request) {
	headers, err := parseXMatrixHeaders(r.Header.Values("Authorization"))
	if err != nil {
		g.refuse(w, r, "", http.StatusUnauthorized, "M_UNAUTHORIZED", err.Error())
		return
	}
	auth := headers[0]
	if auth.Destination != "" && auth.Destination != g.Self {
		g.refuse(w, r, auth.Origin, http.StatusUnauthorized, "M_UNAUTHORIZED",
			fmt.Sprintf("the request is meant for %s, not for %s", auth.Destination, g.Self))
		return
	}
	if ok, why := Admits(g.List(), g.Self, auth.Origin); !ok {
		g.refuse(w, r, auth.Origin, http.StatusForbidden, "M_FORBIDDEN", why)
		return
	}
	// The homeserver sees only what the gate checked.
	r.Header.Del("Authorization")
	for _, x := range headers {
		r.Header.Add("Authorization", x.String())
	}
	g.log().WithFields(logrus.Fields{"origin": auth.Origin, "path": r.URL.Path}).Debug("federation gate: passed")
	g.proxy.ServeHTTP(w, r)
}

// Admits reports whether the homeserver self may accept federation
// requests from origin under list l, and if not, why, in a sentence that
// names the origin. A nil list admits nobody.
func Admits(l *List, self, origin ServerName) (bool, string) {
	switch {
	case l == nil:
		return false, fmt.Sprintf("federation from %s refused: %s has no valid federation list", origin, self)
	case l.Allowed(self, origin):
		return true, ""
	case !l.Listed(origin) && l.External(self):
		return true, ""
	case !l.Listed(origin):
		return false, fmt.Sprintf("federation from %s refused: %s is not on the federation list of %s (version %d)", origin, origin, self, l.Version)
	default:
		return false, fmt.Sprintf("federation from %s refused: not allowed by the federation list of %s (version %d)", origin, self, l.Version)
	}
}

func (g *Gate) refuse(w http.ResponseWriter, r *http.Request, origin ServerName, status int, errcode, why string) {
	f := logrus.Fields{"path": r.URL.Path, "remote": r.RemoteAddr, "status": status, "reason": why}
	if origin != "" {
		f["origin"] = origin
	}
	g.log().WithFields(f).Warn("federation gate: request refused")
	writeError(w, status, errcode, why)
}

func (g *Gate) log() logrus.FieldLogger {
	if g.Log == nil {
		return logrus.New()
	}
	return g.Log
}

func writeError(w http.ResponseWriter, status int, errcode, msg string) {
	body, _ := json.Marshal(map[string]string{"errcode": errcode, "error": msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func hasDotSegment(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// XMatrix is the parsed X-Matrix Authorization header of a federation
// request.
type XMatrix struct {
	Origin      ServerName
	Destination ServerName
	Key         string
	Sig         string
}

// ParseXMatrix parses one Authorization header value of scheme X-Matrix as
// the Matrix server-server API describes it: the scheme (any case), one or
// more spaces, then comma-separated name=value parameters whose names are
// case-insensitive and whose values are tokens or quoted strings. It is
// strict where homeserver parsers differ: only origin, destination, key and
// sig are allowed, each once; origin, key and sig are required; no value
// may hold a comma, an equals sign, a quote, a backslash or a blank; origin
// and destination must be server names, key an ed25519 key ID and sig
// unpadded or padded base64.
func ParseXMatrix(header string) (XMatrix, error) {
	scheme, rest, _ := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "X-Matrix") {
		return XMatrix{}, fmt.Errorf("the Authorization header is not of scheme X-Matrix")
	}
	params, err := parseAuthParams(rest)
	if err != nil {
		return XMatrix{}, fmt.Errorf("malformed X-Matrix Authorization header: %w", err)
	}
	for name, value := range params {
		switch name {
		case "origin", "destination", "key", "sig":
		default:
			return XMatrix{}, fmt.Errorf("malformed X-Matrix Authorization header: unknown parameter %q", name)
		}
		if strings.ContainsAny(value, ",=\"\\ \t") && name != "sig" {
			return XMatrix{}, fmt.Errorf("malformed X-Matrix Authorization header: the value of %s holds a separator", name)
		}
	}
	x := XMatrix{Origin: ServerName(params["origin"]), Destination: ServerName(params["destination"]), Key: params["key"], Sig: params["sig"]}
	switch {
	case x.Origin == "":
		return XMatrix{}, fmt.Errorf("the X-Matrix Authorization header names no origin")
	case !serverNameRE.MatchString(string(x.Origin)):
		return XMatrix{}, fmt.Errorf("the origin %q of the X-Matrix Authorization header is not a server name", x.Origin)
	case x.Destination != "" && !serverNameRE.MatchString(string(x.Destination)):
		return XMatrix{}, fmt.Errorf("the destination %q of the X-Matrix Authorization header is not a server name", x.Destination)
	case !keyIDRE.MatchString(x.Key):
		return XMatrix{}, fmt.Errorf("the key %q of the X-Matrix Authorization header is not an ed25519 key ID", x.Key)
	case !sigRE.MatchString(x.Sig):
		return XMatrix{}, fmt.Errorf("the signature of the X-Matrix Authorization header is not base64")
	}
	return x, nil
}

var (
	keyIDRE = regexp.MustCompile(`^ed25519:[A-Za-z0-9_.-]{1,64}$`)
	sigRE   = regexp.MustCompile(`^[A-Za-z0-9+/_-]{1,256}={0,2}$`)
)

// String is the header the gate forwards: the checked fields, quoted.
func (x XMatrix) String() string {
	var b strings.Builder
	b.WriteString(`X-Matrix origin="` + string(x.Origin) + `"`)
	if x.Destination != "" {
		b.WriteString(`,destination="` + string(x.Destination) + `"`)
	}
	b.WriteString(`,key="` + x.Key + `",sig="` + x.Sig + `"`)
	return b.String()
}

// parseXMatrixHeaders parses every X-Matrix header of a request (a server
// may sign with several keys, one header each); they must name one origin
// and one destination. Authorization headers of other schemes are ignored
// (and not forwarded).
func parseXMatrixHeaders(values []string) ([]XMatrix, error) {
	var found []XMatrix
	for _, v := range values {
		scheme, _, _ := strings.Cut(strings.TrimSpace(v), " ")
		if !strings.EqualFold(scheme, "X-Matrix") {
			continue
		}
		x, err := ParseXMatrix(strings.TrimSpace(v))
		if err != nil {
			return nil, err
		}
		if len(found) > 0 && (found[0].Origin != x.Origin || found[0].Destination != x.Destination) {
			return nil, fmt.Errorf("the X-Matrix Authorization headers name different origins or destinations")
		}
		found = append(found, x)
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("federation requests need an X-Matrix Authorization header")
	}
	return found, nil
}

// parseAuthParams parses `name=value, name="quoted value"` into a map with
// lowercase names. A parameter given twice is an error, so that a header
// cannot show the gate one origin and the homeserver another; so is a
// backslash escape in a quoted value (parsers disagree on them).
func parseAuthParams(s string) (map[string]string, error) {
	out := map[string]string{}
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return out, nil
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return nil, fmt.Errorf("expected name=value at %q", s)
		}
		name := strings.ToLower(strings.TrimRight(s[:eq], " \t"))
		if !isToken(name) {
			return nil, fmt.Errorf("bad parameter name %q", name)
		}
		s = strings.TrimLeft(s[eq+1:], " \t")
		var value string
		if strings.HasPrefix(s, `"`) {
			end := strings.IndexAny(s[1:], `"\`)
			if end < 0 {
				return nil, fmt.Errorf("unterminated quoted value of %s", name)
			}
			if s[1+end] == '\\' {
				return nil, fmt.Errorf("escaped character in the value of %s", name)
			}
			value, s = s[1:1+end], s[2+end:]
		} else {
			end := strings.IndexAny(s, ", \t")
			if end < 0 {
				end = len(s)
			}
			value, s = s[:end], s[end:]
			if !isToken(value) {
				return nil, fmt.Errorf("bad value of %s", name)
			}
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("parameter %s given twice", name)
		}
		out[name] = value
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return out, nil
		}
		if s[0] != ',' {
			return nil, fmt.Errorf("expected a comma at %q", s)
		}
		s = s[1:]
	}
}

// isToken reports whether s is an RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// DefaultRefresh is how often a Watcher loads the list again by default.
const DefaultRefresh = 30 * time.Second

// statInterval is how often a Watcher looks whether its list file changed.
const statInterval = time.Second

// maxListSize bounds what a Watcher reads of a list.
const maxListSize = 4 << 20

// Watcher keeps the federation list in force: it loads a signed list from
// a file or an https URL, verifies it with the trusted keys and loads it
// again every Refresh and, for a file, within a second after the file
// changes. A new list replaces the one in force as Accept decides: only if
// it verifies and its version is higher (the same version must come with
// the same content); otherwise the list in force stays and the refusal is
// logged at error level. A list in
// force that expires stays in force (the alternative would cut every
// federation when a renewal is late) and is logged at error level on every
// check until a valid list arrives.
//
// The fields must be set before the first Check and not changed after.
type Watcher struct {
	// Source is a file path or an https URL.
	Source string
	// Keys are the trusted public keys.
	Keys []PublicKey
	// Refresh is the interval between loads; 0 means DefaultRefresh.
	Refresh time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Client fetches https sources; nil means a client with a 30 s
	// timeout.
	Client *http.Client
	// Log receives every change and every refusal.
	Log logrus.FieldLogger
	// State, if set, is a file that keeps the list in force across
	// restarts: a restarted watcher starts from it (its signature checked
	// again, not its validity period), so a replayed older list is refused
	// after a restart too.
	State string

	current atomic.Pointer[List]
	loaded  bool       // State was read
	mu      sync.Mutex // serializes Check
	stat    fileStamp  // of Source when it was last read
}

// fileStamp identifies a version of a file: a list replaced by renaming
// is another file, one rewritten in place has another time or size.
type fileStamp struct {
	info os.FileInfo
}

func (a fileStamp) same(b fileStamp) bool {
	if a.info == nil || b.info == nil {
		return a.info == nil && b.info == nil
	}
	return os.SameFile(a.info, b.info) && a.info.ModTime().Equal(b.info.ModTime()) && a.info.Size() == b.info.Size()
}

// List returns the list in force, or nil before the first good load. It is
// safe for concurrent use.
func (w *Watcher) List() *List { return w.current.Load() }

// Check loads and verifies the list once. It returns nil when the list in
// force is the loaded one afterwards (new or unchanged), and otherwise the
// refusal, an *Error for a list that does not verify, has expired (also
// the list in force itself) or is older, or the load error; the list in
// force then stays.
func (w *Watcher) Check(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	err := w.check(ctx, now)
	cur := w.current.Load()
	log := w.log().WithField("source", w.Source)
	if err != nil {
		f := logrus.Fields{"error": err.Error()}
		if r := ReasonOf(err); r != "" {
			f["reason"] = string(r)
		}
		if cur == nil {
			log.WithFields(f).Error("federation list refused and no list is in force")
		} else {
			f["version_in_force"] = cur.Version
			log.WithFields(f).Error("federation list refused: the list in force stays")
		}
	}
	if cur != nil && !now.Before(cur.ExpiresAt) {
		log.WithFields(logrus.Fields{"version": cur.Version, "expires_at": day(cur.ExpiresAt)}).
			Error("the federation list in force has expired: it stays in force until the IT authority issues a new one")
	}
	return err
}

func (w *Watcher) check(ctx context.Context, now time.Time) error {
	if !w.loaded && w.State != "" {
		w.loaded = true
		if doc, err := os.ReadFile(w.State); err == nil {
			if l, err := VerifySignature(doc, w.Keys); err == nil {
				w.current.Store(l)
				w.log().WithFields(logrus.Fields{"state": w.State, "version": l.Version}).Info("federation list in force from the state file")
			} else {
				w.log().WithField("state", w.State).WithError(err).Error("the state file's federation list does not verify; ignoring it")
			}
		}
	}
	doc, stamp, err := w.fetch(ctx)
	w.stat = stamp
	if err != nil {
		return err
	}
	cur := w.current.Load()
	l, changed, err := Accept(doc, w.Keys, now, cur)
	if err != nil {
		return err
	}
	if !changed {
		return nil
	}
	if w.State != "" {
		tmp := w.State + ".tmp"
		if err := os.WriteFile(tmp, doc, 0o600); err != nil {
			return fmt.Errorf("keep the federation list in %s: %w", w.State, err)
		}
		if err := os.Rename(tmp, w.State); err != nil {
			return fmt.Errorf("keep the federation list in %s: %w", w.State, err)
		}
	}
	w.current.Store(l)
	f := logrus.Fields{"version": l.Version, "issuer": l.Issuer, "expires_at": day(l.ExpiresAt), "homeservers": len(l.Homeservers)}
	if cur != nil {
		f["previous_version"] = cur.Version
	}
	w.log().WithField("source", w.Source).WithFields(f).Info("federation list in force")
	return nil
}

// Run checks the list every Refresh and, for a file, after it changes,
// until ctx ends. It does not load the list first: call Check for that.
func (w *Watcher) Run(ctx context.Context) {
	refresh := w.Refresh
	if refresh <= 0 {
		refresh = DefaultRefresh
	}
	every := time.NewTicker(refresh)
	defer every.Stop()
	var stat <-chan time.Time
	if !isURL(w.Source) {
		t := time.NewTicker(statInterval)
		defer t.Stop()
		stat = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-every.C:
			_ = w.Check(ctx)
		case <-stat:
			if w.changed() {
				_ = w.Check(ctx)
			}
		}
	}
}

// changed reports whether the file Source differs from when it was read.
func (w *Watcher) changed() bool {
	stamp := stampOf(w.Source)
	w.mu.Lock()
	defer w.mu.Unlock()
	return !stamp.same(w.stat)
}

// fetch reads Source. For a file it also returns the file's stamp, taken
// before reading: a change during the read shows at the next look.
func (w *Watcher) fetch(ctx context.Context) ([]byte, fileStamp, error) {
	stamp := fileStamp{}
	if !isURL(w.Source) {
		stamp = stampOf(w.Source)
	}
	doc, err := Fetch(ctx, w.Client, w.Source)
	return doc, stamp, err
}

// stampOf returns the modification time and size of file path, or the zero
// stamp if it cannot be read.
func stampOf(path string) fileStamp {
	st, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{st}
}

func (w *Watcher) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

func (w *Watcher) log() logrus.FieldLogger {
	if w.Log == nil {
		return logrus.New()
	}
	return w.Log
}

func isURL(source string) bool { return strings.Contains(source, "://") }

// Fetch reads a list document from source: an https URL, fetched with
// client (nil: a client with a 30 s timeout), or a file path. Other URL
// schemes are refused, since a list fetched over plain http could be
// withheld or replaced by an older one on the way.
func Fetch(ctx context.Context, client *http.Client, source string) ([]byte, error) {
	if !isURL(source) {
		f, err := os.Open(source)
		if err != nil {
			return nil, fmt.Errorf("read federation list: %w", err)
		}
		defer f.Close()
		doc, err := readLimited(f)
		if err != nil {
			return nil, fmt.Errorf("read federation list %s: %w", source, err)
		}
		return doc, nil
	}
	u, err := url.Parse(source)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("federation list source %q: want a file path or an https URL", source)
	}
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, source, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch federation list: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch federation list: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch federation list %s: HTTP status %s", source, resp.Status)
	}
	doc, err := readLimited(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("fetch federation list %s: %w", source, err)
	}
	return doc, nil
}

func readLimited(r io.Reader) ([]byte, error) {
	doc, err := io.ReadAll(io.LimitReader(r, maxListSize+1))
	if err != nil {
		return nil, err
	}
	if len(doc) > maxListSize {
		return nil, errors.New("larger than 4 MiB")
	}
	return doc, nil
}

// ReadPublicKeys reads the trusted public keys from files written by
// WriteKeyPair.
func ReadPublicKeys(paths []string) ([]PublicKey, error) {
	if len(paths) == 0 {
		return nil, errors.New("no trusted public key: name at least one public key file")
	}
	keys := make([]PublicKey, 0, len(paths))
	for _, p := range paths {
		k, err := ReadPublicKey(p)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}
