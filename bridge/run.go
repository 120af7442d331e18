package bridge

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/sirupsen/logrus"
	"go.mau.fi/util/dbutil"
	"gopkg.in/yaml.v3"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/appservice"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/bridgeconfig"
	"maunium.net/go/mautrix/bridgev2/commands"
	"maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/matrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/config"
)

// Inbox keeps received mail until it is posted, so that an accepted mail
// reaches its room exactly once across restarts.
type Inbox interface {
	// AddInbound records the raw mail for room unless a mail with the
	// same Message-ID was recorded for it; it reports whether it is new.
	AddInbound(ctx context.Context, room, messageID string, raw []byte, at time.Time) (bool, error)
	// PendingInbound returns the mails not posted yet, oldest first.
	PendingInbound(ctx context.Context) ([]InboundMail, error)
	// MarkPosted records that the mail is in its room.
	MarkPosted(ctx context.Context, room, messageID string, at time.Time) error
	// PurgeInbound deletes the mails posted before before and logs each
	// deletion under policy (issue 14, finding 6).
	PurgeInbound(ctx context.Context, before time.Time, policy string, describe func(room, key string) (id.RoomID, id.UserID)) (int, error)
}

// InboundMail is a received mail waiting to be posted.
type InboundMail struct {
	Room, MessageID string
	Raw             []byte
}

// Store is what the bridge keeps in the service's database.
type Store interface {
	Outbox
	Inbox
}

// Options configure a running bridge.
type Options struct {
	Config  *config.Bridge
	Schools *Schools
	// HomeserverURL and ServerName of the bridge's homeserver; Dendrite
	// v0.13.8 advertises only spec v1.2, which bridgev2 accepts only when
	// told (IgnoreUnsupportedServer).
	HomeserverURL, ServerName string
	Dendrite                  bool
	Registration              *appservice.Registration
	// DB is the bridge's own database (bridgev2's tables).
	DB    *dbutil.Database
	Store Store
	// Owner is the Matrix account that owns the relay login (the service
	// account of the bridge's homeserver).
	Owner id.UserID
	// Members are the Matrix members of each room, by room ID; they are
	// invited to the room.
	Members   map[string][]id.UserID
	Log       logrus.FieldLogger
	Zerolog   zerolog.Logger
	RelayPass string
	// SMTPUsers are the accounts that may submit mail with SMTP AUTH
	// (bridge.inbound.users with their passwords read).
	SMTPUsers map[string]string
	// InboxKeep is how long a posted mail's raw text is kept; the service
	// sets it to bridge.inbox_retention, shortened to the rooms' default
	// retention. 0 means config.DefaultBridgeInboxRetention.
	InboxKeep time.Duration
	// LookupTXT looks up DKIM keys that the schools directory does not
	// pin; nil is DNS.
	LookupTXT func(name string) ([]string, error)
}

// smtpOptions builds the SMTP server's options from the configuration:
// the STARTTLS certificate, the door policy and the DKIM check.
func smtpOptions(o Options) (ServerOptions, error) {
	c := o.Config
	opts := ServerOptions{Addr: c.SMTPListen, Domain: c.MailDomain, MaxMail: c.MaxMail,
		Limits: Limits{MaxAttachment: c.MaxAttachment, MaxParts: 100}, Log: o.Log.WithField("component", "smtp"),
		Access: Access{Trusted: c.Inbound.TrustedNetworks, Users: o.SMTPUsers, RequireTLS: c.Inbound.RequireTLS,
			MaxConnections: c.Inbound.MaxConnections, MaxSession: c.Inbound.MaxSession},
		Auth: &DKIMChecker{Schools: o.Schools, Default: c.Inbound.RequireDKIM, LookupTXT: o.LookupTXT}}
	if c.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
		if err != nil {
			return opts, fmt.Errorf("bridge.tls_cert_file, bridge.tls_key_file: %w", err)
		}
		opts.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if c.Inbound.RequireTLS && opts.TLS == nil {
		return opts, errors.New("bridge.inbound.require_tls: needs tls_cert_file and tls_key_file")
	}
	if len(o.SMTPUsers) > 0 && opts.TLS == nil {
		return opts, errors.New("bridge.inbound.users: SMTP AUTH is offered only over TLS; set tls_cert_file and tls_key_file")
	}
	return opts, nil
}

// Running is a started bridge.
type Running struct {
	br     *bridgev2.Bridge
	mc     *matrix.Connector
	net    *Network
	smtp   *Server
	login  *bridgev2.UserLogin
	store  Store
	log    logrus.FieldLogger
	wake   chan struct{}
	wg     sync.WaitGroup
	cancel context.CancelFunc
	// Rooms maps room IDs to their Matrix rooms.
	Rooms      map[string]id.RoomID
	serverName string
	inboxKeep  time.Duration
	lastPurge  time.Time
}

// purgeInbox deletes the raw mails posted longer than inboxKeep ago, at
// most once an hour, and logs the deletions.
func (r *Running) purgeInbox(ctx context.Context, now time.Time) {
	if now.Sub(r.lastPurge) < time.Hour {
		return
	}
	r.lastPurge = now
	policy := "bridge.inbox_retention " + r.inboxKeep.String()
	n, err := r.store.PurgeInbound(ctx, now.Add(-r.inboxKeep), policy, r.describeMail)
	if err != nil {
		r.log.WithError(err).Warn("cannot purge posted mails from the inbox")
		return
	}
	if n > 0 {
		r.log.WithFields(logrus.Fields{"mails": n, "policy": policy}).Info("posted mails purged from the inbox")
	}
}

// describeMail names the Matrix room and the sender's ghost of an inbox
// entry for the deletion log.
func (r *Running) describeMail(room, key string) (id.RoomID, id.UserID) {
	from, _, ok := strings.Cut(key, " ")
	var sender id.UserID
	if mb, known := r.net.Schools.Mailbox(from); ok && known {
		sender = id.NewUserID(GhostPrefix+mb.GhostID(), r.serverName)
	}
	return r.Rooms[room], sender
}

// Start starts the bridge: bridgev2 with its appservice, the rooms (made
// on first start, the members invited), the SMTP server and the poster of
// received mail. It returns once everything runs.
func Start(ctx context.Context, o Options) (*Running, error) {
	c := o.Config
	bcfg, err := bridgeConfig(o)
	if err != nil {
		return nil, err
	}
	smtpOpts, err := smtpOptions(o)
	if err != nil {
		return nil, err
	}
	n := &Network{Config: c, Schools: o.Schools, Outbox: o.Store,
		Relay: &Relay{Addr: c.Relay.Address, Username: c.Relay.Username, Password: o.RelayPass, HelloName: c.MailDomain,
			Attempts: c.Relay.Attempts, RetryAfter: c.Relay.RetryAfter}}
	mc := matrix.NewConnector(bcfg)
	mc.IgnoreUnsupportedServer = o.Dendrite
	br := bridgev2.NewBridge("landesmessenger-mail", o.DB, o.Zerolog, &bcfg.Bridge, mc, n, commands.NewProcessor)
	if err := br.Start(ctx); err != nil {
		return nil, fmt.Errorf("bridge: start: %w", err)
	}
	r := &Running{br: br, mc: mc, net: n, store: o.Store, log: o.Log, wake: make(chan struct{}, 1), Rooms: map[string]id.RoomID{},
		serverName: o.ServerName, inboxKeep: o.InboxKeep}
	if r.inboxKeep <= 0 {
		r.inboxKeep = config.DefaultBridgeInboxRetention
	}
	fail := func(err error) (*Running, error) {
		br.Stop()
		return nil, err
	}
	user, err := br.GetUserByMXID(ctx, o.Owner)
	if err != nil {
		return fail(fmt.Errorf("bridge: owner %s: %w", o.Owner, err))
	}
	r.login, err = user.NewLogin(ctx, &database.UserLogin{ID: RelayLoginID, RemoteName: "Schulbrücke"}, nil)
	if err != nil {
		return fail(fmt.Errorf("bridge: relay login: %w", err))
	}
	for _, room := range c.Rooms {
		portal, err := br.GetPortalByKey(ctx, PortalKey(room.ID))
		if err != nil {
			return fail(fmt.Errorf("bridge: room %s: %w", room.ID, err))
		}
		if portal.MXID == "" {
			info, err := r.login.Client.GetChatInfo(ctx, portal)
			if err != nil {
				return fail(err)
			}
			if err := portal.CreateMatrixRoom(ctx, r.login, info); err != nil {
				return fail(fmt.Errorf("bridge: create room %s: %w", room.ID, err))
			}
		}
		if portal.Relay == nil {
			if err := portal.SetRelay(ctx, r.login); err != nil {
				return fail(fmt.Errorf("bridge: relay of %s: %w", room.ID, err))
			}
		}
		for _, u := range o.Members[room.ID] {
			if err := br.Bot.EnsureInvited(ctx, portal.MXID, u); err != nil {
				o.Log.WithError(err).WithFields(logrus.Fields{"room": room.ID, "user_id": u.String()}).Warn("cannot invite a member")
			}
		}
		r.Rooms[room.ID] = portal.MXID
		o.Log.WithFields(logrus.Fields{"room": room.ID, "room_id": portal.MXID.String(), "address": c.Address(room)}).Info("bridged room ready")
	}
	// Messages the homeserver delivered but the bridge did not handle
	// before it stopped (an appservice transaction is acknowledged once
	// its events are queued) are read from the rooms and handled now.
	for _, room := range c.Rooms {
		n, err := r.catchUp(ctx, mc, r.Rooms[room.ID])
		if err != nil {
			o.Log.WithError(err).WithField("room", room.ID).Warn("cannot catch up on the room's messages")
		} else if n > 0 {
			o.Log.WithFields(logrus.Fields{"room": room.ID, "messages": n}).Info("mailed messages left from before the restart")
		}
	}
	r.smtp, err = Listen(r, smtpOpts)
	if err != nil {
		return fail(err)
	}
	bg, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Add(3)
	go func() {
		defer r.wg.Done()
		if err := r.smtp.Serve(); err != nil {
			o.Log.WithError(err).Error("SMTP server stopped")
		}
	}()
	go func() {
		defer r.wg.Done()
		r.catchUpLoop(bg)
	}()
	go func() {
		defer r.wg.Done()
		r.postLoop(bg)
	}()
	o.Log.WithFields(logrus.Fields{"smtp": r.smtp.Addr(), "rooms": len(r.Rooms)}).Info("school bridge running")
	return r, nil
}

// SMTPAddr is the address of the bridge's SMTP server.
func (r *Running) SMTPAddr() string { return r.smtp.Addr() }

// Stop stops taking mail and Matrix events first (the SMTP server and
// the appservice's HTTP listener: what is not taken is retried by the
// sender), then the poster and bridgev2.
func (r *Running) Stop() {
	_ = r.smtp.Close()
	r.mc.AS.Stop()
	r.cancel()
	r.wg.Wait()
	r.br.Stop()
}

// Recipient implements Receiver: the room of the address, if from is one
// of its mailboxes.
func (r *Running) Recipient(from, to string) (string, error) {
	c := r.net.Config
	for _, room := range c.Rooms {
		if !strings.EqualFold(c.Address(room), to) {
			continue
		}
		if r.net.Ended(room) {
			return "", fmt.Errorf("this room ended with the school year on %s", room.Until.Format("2006-01-02"))
		}
		for _, mb := range r.net.Mailboxes(room) {
			if mb.Address == strings.ToLower(from) {
				return room.ID, nil
			}
		}
		return "", fmt.Errorf("%s is not a mailbox of this room; only its schools' mailboxes may write to it", from)
	}
	return "", fmt.Errorf("no room has the address %s", to)
}

// Deliver implements Receiver: the mail is kept until the poster has put
// it in every room.
func (r *Running) Deliver(ctx context.Context, in *Incoming, raw []byte, rooms []string) error {
	for _, room := range rooms {
		// Kept per room and sender: another school's mail with the same
		// Message-ID is a mail of its own (finding 5).
		if _, err := r.store.AddInbound(ctx, room, InboxKey(in.From, in.MessageID), raw, time.Now()); err != nil {
			return err
		}
	}
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return nil
}

// InboxKey is a received mail's key in the inbox within its room: the
// sender and the Message-ID.
func InboxKey(from, messageID string) string { return strings.ToLower(from) + " " + messageID }

// postLoop posts the mails waiting in the inbox, at start (what a crash
// left) and whenever one arrives.
func (r *Running) postLoop(ctx context.Context) {
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		pending, err := r.store.PendingInbound(ctx)
		if err != nil && ctx.Err() == nil {
			r.log.WithError(err).Warn("cannot read the inbox")
		}
		for _, m := range pending {
			if ctx.Err() != nil {
				return
			}
			in, err := ParseIncoming(bytes.NewReader(m.Raw), Limits{MaxAttachment: r.net.Config.MaxAttachment, MaxParts: 100})
			if err == nil {
				err = r.net.Incoming(ctx, r.login, m.Room, in)
			}
			if err != nil {
				r.log.WithError(err).WithFields(logrus.Fields{"room": m.Room, "message_id": m.MessageID}).Warn("cannot post a mail yet")
				continue
			}
			if err := r.store.MarkPosted(ctx, m.Room, m.MessageID, time.Now()); err != nil {
				r.log.WithError(err).Warn("cannot mark a mail posted")
			}
		}
		r.purgeInbox(ctx, time.Now())
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-tick.C:
		}
	}
}

// bridgeConfig is bridgev2's configuration of the bridge.
func bridgeConfig(o Options) (*bridgeconfig.Config, error) {
	reg := o.Registration
	if reg == nil {
		return nil, errors.New("bridge: no appservice registration")
	}
	host, portText, err := net.SplitHostPort(o.Config.AppserviceListen)
	if err != nil {
		return nil, fmt.Errorf("bridge: appservice_listen: %w", err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("bridge: appservice_listen: %w", err)
	}
	cfg := &bridgeconfig.Config{}
	cfg.Homeserver = bridgeconfig.HomeserverConfig{Address: o.HomeserverURL, Domain: o.ServerName, Software: bridgeconfig.SoftwareStandard}
	cfg.AppService = bridgeconfig.AppserviceConfig{
		Address: "http://" + o.Config.AppserviceListen, Hostname: host, Port: uint16(port),
		ID: reg.ID, Bot: bridgeconfig.BotUserConfig{Username: reg.SenderLocalpart, Displayname: "Schulbrücke"},
		ASToken: reg.AppToken, HSToken: reg.ServerToken, UsernameTemplate: GhostPrefix + "{{.}}",
	}
	relay := `enabled: true
admin_only: false
default_relays: [relay]
message_formats: {m.text: "{{ .Message }}", m.notice: "{{ .Message }}", m.emote: "* {{ .Message }}", m.file: "{{ .Message }}", m.image: "{{ .Message }}", m.audio: "{{ .Message }}", m.video: "{{ .Message }}"}
displayname_format: "{{ .DisplayName }}"
`
	if err := yaml.Unmarshal([]byte(relay), &cfg.Bridge.Relay); err != nil {
		return nil, err
	}
	cfg.Bridge.CommandPrefix = "!schule"
	// Events are handled as they come (no buffer): a mail is marked posted
	// only once it is in the room, and an appservice transaction is
	// answered only once its messages are mailed.
	cfg.Bridge.PortalEventBuffer = 0
	cfg.Bridge.Permissions = bridgeconfig.PermissionConfig{
		"*":             {SendEvents: true},
		string(o.Owner): {SendEvents: true, Commands: true, Admin: true, ManageRelay: true, MaxLogins: 1},
		o.ServerName:    {SendEvents: true},
	}
	cfg.Matrix = bridgeconfig.MatrixConfig{MessageStatusEvents: true, MessageErrorNotices: true, FederateRooms: true, UploadFileThreshold: 0}
	cfg.Encryption = bridgeconfig.EncryptionConfig{Allow: false}
	return cfg, nil
}

// GhostPrefix starts the localpart of every ghost: @schule_1234:SERVER.
const GhostPrefix = "schule_"

// catchUpLimit and catchUpWindow bound how far back catchUp reads a room:
// the newest 5,000 events of the last day.
const (
	catchUpLimit  = 5000
	catchUpWindow = 24 * time.Hour
)

// catchUp handles the members' messages of room of the last day that were
// not mailed, oldest first, through bridgev2 as if the homeserver had just
// delivered them; the outbox keeps any of them from being mailed twice.
// (A message the relay refused for good is tried again this way.)
func (r *Running) catchUp(ctx context.Context, mc *matrix.Connector, room id.RoomID) (int, error) {
	return r.catchUpOlder(ctx, mc, room, 0)
}

// catchUpOlder is catchUp for the messages at least minAge old: younger ones
// may still be on their way through the appservice.
func (r *Running) catchUpOlder(ctx context.Context, mc *matrix.Connector, room id.RoomID, minAge time.Duration) (int, error) {
	cli := mc.AS.BotClient()
	var todo []*event.Event
	from, seen := "", 0
paging:
	for seen < catchUpLimit {
		resp, err := cli.Messages(ctx, room, from, "", mautrix.DirectionBackward, nil, 100)
		if err != nil {
			return 0, err
		}
		for _, evt := range resp.Chunk {
			seen++
			if evt.Type != event.EventMessage || evt.StateKey != nil || r.bridged(evt.Sender, mc) || evt.Unsigned.RedactedBecause != nil {
				continue
			}
			age := time.Since(time.UnixMilli(evt.Timestamp))
			if age > catchUpWindow {
				break paging
			}
			if age < minAge {
				continue
			}
			mailed, err := r.store.Mailed(ctx, evt.ID)
			if err != nil {
				return 0, err
			}
			if mailed != "" {
				continue
			}
			evt.RoomID = room
			todo = append(todo, evt)
		}
		if resp.End == "" || len(resp.Chunk) == 0 {
			break
		}
		from = resp.End
	}
	for i := len(todo) - 1; i >= 0; i-- {
		evt := todo[i]
		evt.Mautrix.EventSource = event.SourceTimeline
		evt.Type.Class = event.MessageEventType
		_ = evt.Content.ParseRaw(evt.Type)
		mc.EventProcessor.Dispatch(ctx, evt)
	}
	return len(todo), nil
}

// catchUpAfter are the times after the start at which the bridge reads its
// rooms again for members' messages the homeserver has not delivered yet,
// and catchUpMinAge the age below which a message counts as on its way.
var (
	catchUpAfter  = []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute}
	catchUpMinAge = 20 * time.Second
)

// catchUpLoop runs catchUp on every room at catchUpAfter after the start.
// After a restart, Synapse retries appservice transactions with a growing
// backoff, so messages sent while the bridge was down or starting may
// arrive minutes late; reading the rooms mails them now. What the homeserver
// delivers later is recognised as mailed (bridge_outbox) and not mailed
// again. It stops reading once that window is over: in steady operation the
// homeserver delivers, and reading busy rooms every few seconds would cost
// more than it finds (measured with make bench-bridge).
func (r *Running) catchUpLoop(ctx context.Context) {
	start := time.Now()
	for _, after := range catchUpAfter {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(start.Add(after))):
		}
		for key, room := range r.Rooms {
			n, err := r.catchUpOlder(ctx, r.mc, room, catchUpMinAge)
			if err != nil && ctx.Err() == nil {
				r.log.WithError(err).WithField("room", key).Warn("cannot read the room for undelivered messages")
			} else if n > 0 {
				r.log.WithFields(logrus.Fields{"room": key, "messages": n}).Info("mailed messages the homeserver had not delivered yet")
			}
		}
	}
}

// bridged reports whether user is the bridge's bot or one of its ghosts.
func (r *Running) bridged(user id.UserID, mc *matrix.Connector) bool {
	local, _, _ := user.Parse()
	return user == mc.Bot.UserID || strings.HasPrefix(local, GhostPrefix)
}
