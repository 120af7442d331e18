// Package matrixbot runs a Landesmessenger bot as an ordinary Matrix account
// with an end-to-end encrypted device: it logs in, keeps its crypto state in
// the service's database, cross-signs its own device, syncs, decrypts, hands
// text messages and reactions to handlers at most once each, and answers
// encrypted wherever the room is encrypted.
//
// Events are dispatched only when they come from another user, in a room for
// which Config.Rooms is true, with an origin_server_ts no older than two
// minutes before Start (StartGrace), and when State.FirstHandling reports
// them as new. A command sent while the bot was down is therefore answered
// after a restart only if the restart comes within StartGrace; older
// commands are dropped rather than run late. Since an event is recorded as
// handled before its handler runs, a crash in between loses it: delivery is
// at most once, never twice.
//
// The crypto state (olm account, sessions, room state cache) lives in
// Config.DB under the bot's user ID, encrypted with a pickle key kept in
// State. A bot whose crypto state is lost logs in with a new device and signs
// it with its cross-signing keys, restored from secret storage with the
// recovery key in State; the old device stays on the homeserver. A lost
// pickle key makes Start fail.
package matrixbot

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/crypto/cryptohelper"
	"maunium.net/go/mautrix/id"
	"maunium.net/go/mautrix/sqlstatestore"

	"github.com/landesmessenger/landesmessenger/logging"
)

// StartGrace is how much older than the bot's start an event may be and
// still be dispatched.
const StartGrace = 2 * time.Minute

// StopTimeout bounds how long Stop waits for handlers in flight.
const StopTimeout = 30 * time.Second

// DefaultDeviceName is the display name of a bot's device unless
// Config.DeviceName says otherwise.
const DefaultDeviceName = "Landesmessenger Verwaltung"

// Names of the secrets a bot keeps through State.
const (
	SecretAccessToken = "access_token"
	SecretDeviceID    = "device_id"
	SecretPickleKey   = "pickle_key"   // encrypts the bot's crypto state in the database
	SecretRecoveryKey = "recovery_key" // restores the cross-signing keys from secret storage
)

// State is what the bot keeps between starts besides its crypto state. The
// service implements it on its store; it must be safe for concurrent use.
type State interface {
	// FirstHandling records eventID as handled by bot and reports whether
	// this is the first time. Of concurrent calls for the same event exactly
	// one reports true.
	FirstHandling(ctx context.Context, bot id.UserID, eventID id.EventID) (bool, error)
	// Secret returns the named secret of bot (see the Secret constants),
	// or "" if it is unset.
	Secret(ctx context.Context, bot id.UserID, name string) (string, error)
	// SetSecret stores the named secret of bot.
	SetSecret(ctx context.Context, bot id.UserID, name, value string) error
}

// Config says which account a bot runs as and what it does with events.
type Config struct {
	HomeserverURL string
	UserID        id.UserID
	// Password is used to log in and, since Dendrite demands it, to upload
	// the cross-signing keys.
	Password string
	// DeviceName is the display name of a new device; DefaultDeviceName if
	// empty.
	DeviceName string
	// DB holds the crypto state and the room state cache, the service's
	// store.Store.DB(). Several bots may share one DB: each keeps its
	// crypto state under its own user ID and its own pickle key.
	DB *dbutil.Database
	// PickleKey encrypts the bot's crypto state in DB. It is kept outside
	// the database it protects (the service derives it from its key file,
	// PickleKeyFor) and never saved there. A key that an earlier version
	// saved in the database is used instead: the state is encrypted with
	// it.
	PickleKey []byte
	// State keeps what is handled and the bot's secrets.
	State State
	// Log receives the bot's log and mautrix's. Secrets never reach it.
	Log logrus.FieldLogger
	// Rooms reports whether the bot acts in a room. The bot joins rooms it
	// is invited to only while Rooms is true for them, and dispatches
	// nothing from other rooms. It is called from the sync loop and must be
	// fast and safe for concurrent use.
	Rooms func(id.RoomID) bool
	// OnMessage, if set, receives the text messages (msgtype m.text, not
	// edits) of other users. m.notice is never dispatched: by the Matrix
	// spec it must not be answered automatically.
	OnMessage func(ctx context.Context, b *Bot, m *Message)
	// OnReaction, if set, receives the reactions (m.annotation) of other
	// users.
	OnReaction func(ctx context.Context, b *Bot, r *Reaction)
}

func (c *Config) check() error {
	var missing []string
	for _, f := range []struct {
		name  string
		empty bool
	}{
		{"homeserver URL", c.HomeserverURL == ""},
		{"user ID", c.UserID == ""},
		{"password", c.Password == ""},
		{"database", c.DB == nil},
		{"pickle key", len(c.PickleKey) == 0},
		{"state", c.State == nil},
		{"rooms", c.Rooms == nil},
	} {
		if f.empty {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("bot %s: config lacks %v", c.UserID, missing)
	}
	if _, _, err := c.UserID.Parse(); err != nil {
		return fmt.Errorf("bot %s: %w", c.UserID, err)
	}
	return nil
}

// Message is a text message for a bot. Handlers must not modify it.
type Message struct {
	Room   id.RoomID
	Event  id.EventID
	Sender id.UserID
	// Device is the sender's device if the message was encrypted and the
	// device is known.
	Device        id.DeviceID
	Body          string // without a reply fallback
	FormattedBody string // HTML, "" if the message has none
	// InReplyTo is the event the message replies to, if any.
	InReplyTo id.EventID
	Encrypted bool
	// Trust is how far the sender's device is trusted (id.TrustStateUnset
	// for a plaintext message).
	Trust id.TrustState
	// Time is the server's timestamp of the message.
	Time time.Time
}

// Reaction is a reaction (an m.annotation) for a bot.
type Reaction struct {
	Room      id.RoomID
	Event     id.EventID
	Sender    id.UserID
	Device    id.DeviceID
	RelatesTo id.EventID // the event reacted to
	Key       string     // e.g. "👍"
	Encrypted bool
	Trust     id.TrustState
	Time      time.Time
}

// Bot is a running bot. Its methods are safe for concurrent use.
type Bot struct {
	cfg    Config
	log    logrus.FieldLogger
	cli    *mautrix.Client
	crypto *cryptohelper.CryptoHelper
	store  *crypto.SQLCryptoStore
	states *sqlstatestore.SQLStateStore
	cutoff time.Time // events older than this are not dispatched

	invites  invites
	queue    *roomQueue
	stopping atomic.Bool

	cancelSync     context.CancelFunc
	syncDone       chan struct{}
	firstSync      chan struct{}
	firstSyncOnce  sync.Once
	cancelHandlers context.CancelFunc
	stopOnce       sync.Once
	stopErr        error
}

// upgradeMu serializes the schema upgrades of the crypto and state stores,
// which several bots starting at once may run on the same database.
var upgradeMu sync.Mutex

// Start logs the bot in (reusing its saved device), loads its crypto state,
// makes sure its device is cross-signed, and starts syncing. It returns once
// the first sync is processed. ctx bounds the start only; the bot runs until
// Stop. Errors never contain a secret.
func Start(ctx context.Context, cfg Config) (*Bot, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.DeviceName == "" {
		cfg.DeviceName = DefaultDeviceName
	}
	if cfg.Log == nil {
		l := logrus.New()
		l.SetLevel(logrus.PanicLevel)
		cfg.Log = l
	}
	b := &Bot{
		cfg:       cfg,
		log:       cfg.Log.WithField("bot", cfg.UserID.String()),
		cutoff:    time.Now().Add(-StartGrace),
		firstSync: make(chan struct{}),
	}
	if err := b.connect(ctx); err != nil {
		return nil, fmt.Errorf("bot %s: %w", cfg.UserID, err)
	}
	if err := b.crossSign(ctx); err != nil {
		return nil, fmt.Errorf("bot %s: cross-signing: %w", cfg.UserID, err)
	}
	b.listen()

	handlerCtx, cancelHandlers := context.WithCancel(context.Background())
	b.queue, b.cancelHandlers = newRoomQueue(handlerCtx, b.log), cancelHandlers
	syncCtx, cancelSync := context.WithCancel(context.Background())
	b.cancelSync, b.syncDone = cancelSync, make(chan struct{})
	go b.syncLoop(syncCtx)

	select {
	case <-b.firstSync:
	case <-ctx.Done():
		_ = b.Stop()
		return nil, fmt.Errorf("bot %s: first sync: %w", cfg.UserID, ctx.Err())
	}
	b.log.WithField("device_id", b.cli.DeviceID.String()).Info("bot started")
	return b, nil
}

// connect logs in and loads the crypto state.
func (b *Bot) connect(ctx context.Context) error {
	pickleKey, err := b.pickleKey(ctx)
	if err != nil {
		return err
	}
	cli, err := mautrix.NewClient(b.cfg.HomeserverURL, b.cfg.UserID, "")
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	cli.Log = logging.Zerolog(b.log.WithField("component", "mautrix"))
	b.cli = cli

	// A nil logger makes the stores log like the service's database, which
	// leaves query arguments out.
	b.store = crypto.NewSQLCryptoStore(b.cfg.DB, nil, b.cfg.UserID.String(), "", pickleKey)
	b.states = sqlstatestore.NewSQLStateStore(b.cfg.DB, nil, false)
	upgradeMu.Lock()
	err = errors.Join(b.states.Upgrade(ctx), b.store.DB.Upgrade(ctx))
	upgradeMu.Unlock()
	if err != nil {
		return fmt.Errorf("upgrade crypto store: %w", err)
	}

	if err := b.logIn(ctx); err != nil {
		return err
	}
	b.store.DeviceID = cli.DeviceID
	cli.Store = b.store
	cli.StateStore = b.states
	cli.Syncer = newSyncer(b)

	ch, err := cryptohelper.NewCryptoHelper(cli, pickleKey, b.store)
	if err != nil {
		return fmt.Errorf("crypto: %w", err)
	}
	ch.DecryptErrorCallback = b.onDecryptError
	if err := ch.Init(ctx); err != nil {
		return fmt.Errorf("crypto: %w", err)
	}
	cli.Crypto, b.crypto = ch, ch
	return nil
}

// UserID returns the bot's user ID.
func (b *Bot) UserID() id.UserID { return b.cfg.UserID }

// DeviceID returns the bot's device.
func (b *Bot) DeviceID() id.DeviceID { return b.cli.DeviceID }

// Stop stops the sync loop and waits up to StopTimeout for the handlers in
// flight and queued, then cancels their context. It returns an error if they
// did not finish in time. Later calls return the same result.
func (b *Bot) Stop() error {
	b.stopOnce.Do(func() {
		b.stopping.Store(true)
		b.cancelSync()
		<-b.syncDone
		b.stopErr = b.queue.close(StopTimeout)
		b.cancelHandlers()
		if b.stopErr != nil {
			b.stopErr = fmt.Errorf("bot %s: %w", b.cfg.UserID, b.stopErr)
		}
		b.log.Info("bot stopped")
	})
	return b.stopErr
}
