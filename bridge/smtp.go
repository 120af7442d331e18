package bridge

import (
	"bytes"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/sirupsen/logrus"
)

// Receiver decides on and takes the mail the SMTP server receives.
type Receiver interface {
	// Recipient returns the room that mail from the mailbox from to the
	// address to goes to, or an error saying why from may not write there
	// (an unknown room, an unknown or foreign mailbox). The error's text
	// is shown to the sender.
	Recipient(from, to string) (room string, err error)
	// Deliver takes in for rooms. It returns once the mail is recorded
	// durably: the SMTP server then accepts it, and the mail must reach
	// every room exactly once. An error makes the sender try again later.
	Deliver(ctx context.Context, in *Incoming, raw []byte, rooms []string) error
}

// ServerOptions configure the SMTP server.
type ServerOptions struct {
	// Addr is the listen address (loopback by default in the config).
	Addr string
	// Domain is the server's name in its greeting.
	Domain string
	// MaxMail is the largest mail in bytes; Limits bound its parts.
	MaxMail int64
	Limits  Limits
	// TLS enables STARTTLS if set.
	TLS *tls.Config
	// Access is who may submit mail; the zero value lets nobody in.
	Access Access
	// Auth checks that a mail comes from its From domain (DKIM); nil
	// checks nothing.
	Auth MailAuthenticator
	Log  logrus.FieldLogger
}

// Access is the SMTP server's door policy.
type Access struct {
	// Trusted are the client networks that may submit without AUTH.
	Trusted []netip.Prefix
	// Users may submit after SMTP AUTH PLAIN (offered only over TLS):
	// username -> password.
	Users map[string]string
	// RequireTLS refuses MAIL FROM before STARTTLS.
	RequireTLS bool
	// MaxConnections bounds the sessions at once (default 20); MaxSession
	// bounds one session's length (default 10 minutes).
	MaxConnections int
	MaxSession     time.Duration
}

// MailAuthenticator checks a received mail's origin: *DKIMChecker.
type MailAuthenticator interface {
	Check(from string, raw []byte) error
}

// Server is the bridge's SMTP server for the rooms' addresses.
type Server struct {
	srv  *smtp.Server
	ln   net.Listener
	recv Receiver
	opts ServerOptions
}

// Listen opens the SMTP server's port; Serve then answers on it.
func Listen(recv Receiver, opts ServerOptions) (*Server, error) {
	s := &Server{recv: recv, opts: opts}
	if s.opts.Log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		s.opts.Log = l
	}
	if s.opts.Access.MaxConnections <= 0 {
		s.opts.Access.MaxConnections = 20
	}
	if s.opts.Access.MaxSession <= 0 {
		s.opts.Access.MaxSession = 10 * time.Minute
	}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		ss := &session{s: s, remote: c.Conn().RemoteAddr().String()}
		if ap, err := netip.ParseAddrPort(ss.remote); err == nil {
			ss.addr = ap.Addr().Unmap()
		}
		_, ss.tls = c.TLSConnectionState()
		return ss, nil
	}))
	s.srv.Domain = opts.Domain
	s.srv.MaxMessageBytes = opts.MaxMail
	s.srv.MaxRecipients = 50
	s.srv.ReadTimeout = 60 * time.Second
	s.srv.WriteTimeout = 60 * time.Second
	s.srv.TLSConfig = opts.TLS
	s.srv.AllowInsecureAuth = false
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("smtp: listen on %s: %w", opts.Addr, err)
	}
	s.ln = &limitListener{Listener: ln, slots: make(chan struct{}, s.opts.Access.MaxConnections),
		maxSession: s.opts.Access.MaxSession, log: s.opts.Log}
	return s, nil
}

// limitListener bounds the connections at once and the length of each: a
// connection over the limit is answered 421 and closed; a session past
// MaxSession is closed however slowly it drips (go-smtp's read timeout
// only bounds the wait for one line).
type limitListener struct {
	net.Listener
	slots      chan struct{}
	maxSession time.Duration
	log        logrus.FieldLogger
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
		default:
			l.log.WithField("remote", c.RemoteAddr().String()).Warn("SMTP connection refused: too many at once")
			_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			_, _ = io.WriteString(c, "421 4.7.0 Too many connections, try again later\r\n")
			_ = c.Close()
			continue
		}
		lc := &limitedConn{Conn: c, release: func() { <-l.slots }}
		lc.timer = time.AfterFunc(l.maxSession, func() {
			l.log.WithField("remote", c.RemoteAddr().String()).Warn("SMTP session closed: longer than the session limit")
			_ = lc.Close()
		})
		return lc, nil
	}
}

// limitedConn gives its slot back once, when it is closed.
type limitedConn struct {
	net.Conn
	once    sync.Once
	timer   *time.Timer
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.timer.Stop()
		c.release()
	})
	return err
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve answers connections until Close.
func (s *Server) Serve() error {
	err := s.srv.Serve(s.ln)
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops the server; sessions in progress end. It closes the listener
// itself too: go-smtp closes only listeners Serve has registered, so a Close
// right after Listen, before Serve's goroutine ran, would leave Serve
// blocked in Accept for ever (seen as a serve that did not stop on SIGINT).
func (s *Server) Close() error {
	err := s.srv.Close()
	if errors.Is(err, smtp.ErrServerClosed) {
		err = nil
	}
	if lerr := s.ln.Close(); lerr != nil && !errors.Is(lerr, net.ErrClosed) && err == nil {
		err = lerr
	}
	return err
}

// session is one SMTP conversation.
type session struct {
	s      *Server
	remote string
	addr   netip.Addr
	tls    bool
	user   string // after SMTP AUTH
	from   string
	rcpts  []string // envelope recipients
	rooms  []string
}

func reject(code int, enh smtp.EnhancedCode, msg string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: code, EnhancedCode: enh, Message: msg}
}

func (ss *session) Reset() { ss.from, ss.rcpts, ss.rooms = "", nil, nil }

func (ss *session) Logout() error { return nil }

// AuthMechanisms offers PLAIN when accounts are configured; go-smtp
// offers and accepts AUTH only over TLS.
func (ss *session) AuthMechanisms() []string {
	if len(ss.s.opts.Access.Users) == 0 {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain || len(ss.s.opts.Access.Users) == 0 {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		want, ok := ss.s.opts.Access.Users[username]
		// Compare in constant time, also for unknown users.
		if subtle.ConstantTimeCompare([]byte(password), []byte(want)) != 1 || !ok || identity != "" && identity != username {
			ss.s.opts.Log.WithFields(logrus.Fields{"username": username, "remote": ss.remote}).Warn("SMTP AUTH failed")
			return smtp.ErrAuthFailed
		}
		ss.user = username
		return nil
	}), nil
}

// allowed says why this session may not submit mail, or nil.
func (ss *session) allowed() *smtp.SMTPError {
	a := ss.s.opts.Access
	if a.RequireTLS && !ss.tls {
		return reject(530, smtp.EnhancedCode{5, 7, 0}, "Must issue a STARTTLS command first")
	}
	if ss.user != "" {
		return nil
	}
	for _, p := range a.Trusted {
		if ss.addr.IsValid() && p.Contains(ss.addr) {
			return nil
		}
	}
	if len(a.Users) > 0 {
		return reject(530, smtp.EnhancedCode{5, 7, 0}, "Authentication required: only the Land's mail gateway may hand mail to the school bridge")
	}
	return reject(550, smtp.EnhancedCode{5, 7, 1}, "Client "+ss.addr.String()+" may not hand mail to the school bridge; send it through the Land's mail gateway")
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	ss.Reset()
	if err := ss.allowed(); err != nil {
		ss.s.opts.Log.WithFields(logrus.Fields{"from": strings.ToLower(from), "remote": ss.remote}).Info("mail refused: " + err.Message)
		return err
	}
	ss.from = strings.ToLower(from)
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	room, err := ss.s.recv.Recipient(ss.from, strings.ToLower(to))
	if err != nil {
		ss.s.opts.Log.WithFields(logrus.Fields{"from": ss.from, "to": to, "remote": ss.remote}).WithError(err).Info("mail refused")
		return reject(550, smtp.EnhancedCode{5, 7, 1}, err.Error())
	}
	ss.rcpts = append(ss.rcpts, strings.ToLower(to))
	ss.rooms = append(ss.rooms, room)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	log := ss.s.opts.Log.WithFields(logrus.Fields{"from": ss.from, "remote": ss.remote})
	data, err := io.ReadAll(r)
	if err != nil {
		if errors.Is(err, smtp.ErrDataTooLarge) {
			return reject(552, smtp.EnhancedCode{5, 3, 4}, fmt.Sprintf("mail larger than %d bytes refused", ss.s.opts.MaxMail))
		}
		return err
	}
	in, err := ParseIncoming(bytes.NewReader(data), ss.s.opts.Limits)
	switch {
	case errors.Is(err, ErrTooLarge):
		log.WithError(err).Info("mail refused")
		return reject(552, smtp.EnhancedCode{5, 3, 4}, err.Error())
	case err != nil:
		log.WithError(err).Info("mail refused")
		return reject(554, smtp.EnhancedCode{5, 6, 0}, err.Error())
	}
	// The header's From is what the room shows: it must be allowed too.
	if in.From != ss.from {
		for _, to := range ss.rcpts {
			if _, err := ss.s.recv.Recipient(in.From, to); err != nil {
				log.WithError(err).Info("mail refused: header From not allowed")
				return reject(550, smtp.EnhancedCode{5, 7, 1}, "From "+in.From+": "+err.Error())
			}
		}
	}
	if ss.s.opts.Auth != nil {
		if err := ss.s.opts.Auth.Check(in.From, data); err != nil {
			// The log names the sender and the reason, never the body.
			log.WithFields(logrus.Fields{"header_from": in.From, "message_id": in.MessageID}).WithError(err).Warn("mail refused: not authenticated")
			if errors.Is(err, ErrAuthTemporary) {
				return reject(451, smtp.EnhancedCode{4, 7, 5}, "cannot check the DKIM signature now, try again later")
			}
			return reject(550, smtp.EnhancedCode{5, 7, 20}, err.Error())
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := ss.s.recv.Deliver(ctx, in, data, ss.rooms); err != nil {
		log.WithError(err).Warn("mail not taken; the sender will retry")
		return reject(451, smtp.EnhancedCode{4, 3, 0}, "temporary failure, try again later")
	}
	log.WithFields(logrus.Fields{"message_id": in.MessageID, "rooms": ss.rooms}).Info("mail accepted")
	return nil
}

// Relay sends mail through an SMTP relay.
type Relay struct {
	Addr     string
	Username string
	Password string
	// HelloName is the name in EHLO.
	HelloName string
	// Attempts and RetryAfter: a temporary failure is tried again after
	// RetryAfter, doubling, Attempts times in all.
	Attempts   int
	RetryAfter time.Duration
}

// PermanentError is a failure that retrying does not cure (the relay's 5xx
// answer): the message's status in the room says so.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Send delivers msg from from to to through the relay, retrying temporary
// failures; a 5xx answer is returned at once as a *PermanentError.
func (r *Relay) Send(ctx context.Context, from string, to []string, msg []byte) error {
	wait := r.RetryAfter
	attempts := max(1, r.Attempts)
	var err error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			wait *= 2
		}
		if err = r.sendOnce(from, to, msg); err == nil {
			return nil
		}
		var se *smtp.SMTPError
		if errors.As(err, &se) && se.Code >= 500 {
			return &PermanentError{Err: fmt.Errorf("relay %s refused the mail: %d %s", r.Addr, se.Code, se.Message)}
		}
	}
	return fmt.Errorf("relay %s: %d attempts failed: %w", r.Addr, attempts, err)
}

func (r *Relay) sendOnce(from string, to []string, msg []byte) error {
	// A relay on loopback is spoken to in plain text; any other only over
	// STARTTLS.
	host, _, _ := net.SplitHostPort(r.Addr)
	dial := func() (*smtp.Client, error) { return smtp.DialStartTLS(r.Addr, &tls.Config{ServerName: host}) }
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() || host == "localhost" {
		dial = func() (*smtp.Client, error) { return smtp.Dial(r.Addr) }
	}
	c, err := dial()
	if err != nil {
		return err
	}
	defer c.Close()
	if r.HelloName != "" {
		if err := c.Hello(r.HelloName); err != nil {
			return err
		}
	}
	if r.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", r.Username, r.Password)); err != nil {
			return err
		}
	}
	if err := c.SendMail(from, to, bytes.NewReader(msg)); err != nil {
		return err
	}
	return c.Quit()
}
