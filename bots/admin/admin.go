// Package admin is the admin (provisioning) bot: admins of the Land and of
// the tenants drive Landesmessenger from encrypted management rooms with
// commands (package command). The bot checks who may do what, asks for
// confirmations, keeps an append-only audit trail, and carries changes out
// as overrides through the same planner and applier as `plan` and `apply`.
// The Matrix side (login, encryption, sync) is package matrixbot.
package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/bots/command"
	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/federation"
	"github.com/landesmessenger/landesmessenger/provisioning"
	"github.com/landesmessenger/landesmessenger/provisioning/reconcile"
	"github.com/landesmessenger/landesmessenger/store"
)

// WorkingAfter is how long a command runs before the bot marks it with ⏳.
const WorkingAfter = 300 * time.Millisecond

// ConfirmWithin is how long a prompt waits for its ✅.
const ConfirmWithin = 5 * time.Minute

// WideImpact is the number of people above which a command waits for a
// confirmation, whatever the command.
const WideImpact = 10

// The reaction keys.
const (
	KeyConfirm = "✅"
	KeyWorking = "⏳"
	KeyDone    = "✅"
	KeyFailed  = "❌"
)

// Env is what the bot needs of the running service.
type Env interface {
	// Config is the configuration in force.
	Config() *config.Config
	// People are the valid people of the directory with the overrides
	// applied.
	People(ctx context.Context) ([]provisioning.Person, error)
	// UserID is the Matrix account of a person.
	UserID(p provisioning.Person) id.UserID
	// Plan computes the pending plan (read only).
	Plan(ctx context.Context) (*reconcile.Outcome, error)
	// Apply plans and applies now, serialized with the service's own
	// reconciles.
	Apply(ctx context.Context) (*reconcile.Outcome, *reconcile.Result, error)
	// Federation is the federation list in force, nil if none.
	Federation() *federation.List
	// Status describes the service for `status`.
	Status(ctx context.Context) Status
}

// Status is what `status` shows.
type Status struct {
	Version     string
	Homeservers []string // "land (dendrite, 127.0.0.10)"
	// LastReconcile is the time and outcome of the last reconcile.
	LastReconcile     time.Time
	LastReconcileText string
	// Problems are what keeps the service from working normally: an
	// invalid changed configuration, an unreachable database. Commands
	// that change something are refused while there are any (safe mode).
	Problems []string
}

// Replier is the bot's voice in a room: package matrixbot's Bot.
type Replier interface {
	Reply(ctx context.Context, room id.RoomID, inReplyTo id.EventID, markdown string) (id.EventID, error)
	React(ctx context.Context, room id.RoomID, target id.EventID, key string) (id.EventID, error)
	Redact(ctx context.Context, room id.RoomID, target id.EventID) error
	UserID() id.UserID
}

// Message is a message in a management room (from matrixbot).
type Message struct {
	Room   id.RoomID
	Event  id.EventID
	Sender id.UserID
	Device id.DeviceID
	Body   string
	// FormattedBody is the HTML of the message, "" if none (for pills).
	FormattedBody string
	Trusted       bool // the sender's device is cross-signed by its owner
	Time          time.Time
}

// Reaction is a reaction in a management room.
type Reaction struct {
	Room      id.RoomID
	Event     id.EventID
	Sender    id.UserID
	Device    id.DeviceID
	RelatesTo id.EventID
	Key       string
	Trusted   bool
	Time      time.Time
}

// Bot is the admin bot's logic, shared by its accounts on every homeserver.
type Bot struct {
	Env   Env
	Store *store.Store
	Log   logrus.FieldLogger
	// Now is the clock; time.Now if nil.
	Now func() time.Time

	mu    sync.Mutex
	rooms map[id.RoomID]Scope // the management rooms
	limit *limiter
}

// New returns the admin bot's logic. A sender may give 10 commands at once
// and then admin.commands_per_minute of the configuration.
func New(env Env, st *store.Store, log logrus.FieldLogger) *Bot {
	perMinute := env.Config().Admin.CommandsPerMinute
	if perMinute <= 0 {
		perMinute = config.DefaultCommandsPerMinute
	}
	return &Bot{Env: env, Store: st, Log: log, limit: newLimiter(10, time.Minute/time.Duration(perMinute))}
}

// Scope is what a management room is for: the whole Land, or one tenant.
type Scope struct {
	Land   bool
	Tenant config.TenantID
}

func (s Scope) String() string {
	if s.Land {
		return "Land"
	}
	return string(s.Tenant)
}

func (b *Bot) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// SetRooms tells the bot its management rooms, by room ID (from the
// provisioning store).
func (b *Bot) SetRooms(rooms map[id.RoomID]Scope) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.rooms = rooms
}

// IsManagementRoom reports whether the bot acts in room.
func (b *Bot) IsManagementRoom(room id.RoomID) bool {
	_, ok := b.scope(room)
	return ok
}

func (b *Bot) scope(room id.RoomID) (Scope, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.rooms[room]
	return s, ok
}

// RoomsFromStore maps the management rooms recorded by provisioning to
// their scopes.
func RoomsFromStore(rooms []store.ManagedRoom) map[id.RoomID]Scope {
	out := map[id.RoomID]Scope{}
	for _, r := range rooms {
		switch key := provisioning.RoomKey(r.Key); {
		case key == provisioning.LandAdminRoom:
			out[id.RoomID(r.RoomID)] = Scope{Land: true}
		case strings.HasSuffix(string(key), "/"+string(config.RoomVerwaltung)) && !strings.HasPrefix(string(key), "rooms/"):
			out[id.RoomID(r.RoomID)] = Scope{Tenant: config.TenantID(strings.TrimSuffix(string(key), "/"+string(config.RoomVerwaltung)))}
		}
	}
	return out
}

// request is one command being handled.
type request struct {
	bot   Replier
	msg   *Message
	scope Scope
	actor *Actor
	inv   *command.Invocation
	lang  command.Lang
	// audit is the entry of the command (awaiting confirmation) when it
	// runs after a confirmation.
	audit int64
}

func (r *request) t(de, en string) string {
	if r.lang == command.English {
		return en
	}
	return de
}

// HandleMessage handles a message in a management room: a command or
// chat.
func (b *Bot) HandleMessage(ctx context.Context, rp Replier, m *Message) {
	start := time.Now()
	ctx = withPeopleCache(ctx)
	scope, ok := b.scope(m.Room)
	if !ok {
		return
	}
	inv, err := command.ParseLang(command.ResolvePills(m.Body, m.FormattedBody), b.defaultLang())
	if inv == nil && err == nil {
		return // chat
	}
	lang := b.defaultLang()
	if inv != nil {
		lang = inv.Lang
	}
	var uerr *command.UsageError
	if errors.As(err, &uerr) {
		lang = uerr.Lang
	}
	req := &request{bot: rp, msg: m, scope: scope, inv: inv, lang: lang}
	log := b.Log.WithFields(logrus.Fields{"room": m.Room, "sender": m.Sender, "event_id": m.Event})
	if !b.limit.allow(m.Sender, b.now()) {
		b.audit(ctx, req, "", "refused", "rate limit")
		if b.limit.warnOnce(m.Sender, b.now()) {
			b.reply(ctx, req, req.t("Zu viele Befehle in kurzer Zeit; bitte warte eine Minute.", "Too many commands in a short time; please wait a minute."))
		}
		return
	}
	if err != nil {
		name := ""
		if uerr != nil && uerr.Spec != nil {
			name = uerr.Spec.Name
		}
		b.audit(ctx, req, name, "refused", "usage: "+err.Error())
		text := err.Error()
		if name != "" {
			text += "\n\n" + req.t("Hilfe dazu: ", "Help on it: ") + "`!" + strings.Join(uerr.Spec.Words(lang), " ") + "` → `" + req.t("!hilfe ", "!help ") + strings.Join(uerr.Spec.Words(lang), " ") + "`"
		}
		b.reply(ctx, req, text)
		return
	}
	actor, why := b.actor(ctx, req)
	req.actor = actor
	if why != "" {
		b.audit(ctx, req, inv.Spec.Name, "refused", why)
		b.reply(ctx, req, "⛔ "+why)
		return
	}
	tenant, why := b.authorize(ctx, req)
	if why != "" {
		b.auditTenant(ctx, req, inv.Spec.Name, tenant, "refused", why)
		b.reply(ctx, req, "⛔ "+why)
		return
	}
	if inv.Spec.Access == command.Write {
		if st := b.Env.Status(ctx); len(st.Problems) > 0 {
			why := req.t("Sicherheitsmodus: Änderungen sind gesperrt, bis behoben ist: ", "Safe mode: changes are blocked until this is fixed: ") + strings.Join(st.Problems, "; ")
			b.auditTenant(ctx, req, inv.Spec.Name, tenant, "refused", why)
			b.reply(ctx, req, "⛔ "+why)
			return
		}
	}
	note, why := b.precheck(ctx, req)
	if why != "" {
		b.auditTenant(ctx, req, inv.Spec.Name, tenant, "refused", why)
		b.reply(ctx, req, "⛔ "+why)
		return
	}
	if prompt, needed := b.needsConfirmation(ctx, req); needed {
		prompt.note = note
		b.ask(ctx, req, tenant, prompt)
		return
	}
	checked := time.Since(start)
	b.run(ctx, req, tenant)
	log.WithFields(logrus.Fields{
		"command": inv.Spec.Name, "checks": checked.Round(time.Microsecond), "total": time.Since(start).Round(time.Microsecond),
		"since_sent": b.now().Sub(m.Time).Round(time.Millisecond),
	}).Info("admin command")
}

func (b *Bot) defaultLang() command.Lang {
	if cfg := b.Env.Config(); cfg != nil && cfg.Admin.Language == "en" {
		return command.English
	}
	return command.German
}

// run carries out an authorized command and reports with reactions, a
// reply and an audit entry.
func (b *Bot) run(ctx context.Context, req *request, tenant config.TenantID) {
	// ⏳ only for commands that take a while: a quick answer needs none.
	var working id.EventID
	var wmu sync.Mutex
	timer := time.AfterFunc(WorkingAfter, func() {
		wmu.Lock()
		defer wmu.Unlock()
		if ev, err := req.bot.React(ctx, req.msg.Room, req.msg.Event, KeyWorking); err == nil {
			working = ev
		}
	})
	t0 := time.Now()
	res := b.execute(ctx, req)
	tExec := time.Since(t0)
	if !timer.Stop() {
		wmu.Lock() // wait for the ⏳ being sent
		if working != "" {
			_ = req.bot.Redact(ctx, req.msg.Room, working)
		}
		wmu.Unlock()
	}
	decision, key := "done", KeyDone
	if res.err != nil {
		decision, key = "failed", KeyFailed
		b.Log.WithError(res.err).WithField("command", req.inv.Spec.Name).Warn("admin command failed")
		if res.text == "" {
			res.text = req.t("Der Befehl ist fehlgeschlagen; die Ursache steht im Protokoll des Dienstes.",
				"The command failed; the cause is in the service's log.")
		}
		res.text = "❌ " + res.text
	}
	detail := res.detail
	if res.err != nil {
		detail = strings.TrimSpace(detail + " error: " + safeError(res.err))
	}
	t1 := time.Now()
	b.auditRef(ctx, req, req.inv.Spec.Name, tenant, decision, detail, req.audit)
	t2 := time.Now()
	b.reply(ctx, req, res.text)
	t3 := time.Now()
	_, _ = req.bot.React(ctx, req.msg.Room, req.msg.Event, key)
	b.Log.WithFields(logrus.Fields{"execute": tExec.Round(time.Microsecond), "audit": t2.Sub(t1).Round(time.Microsecond),
		"reply": t3.Sub(t2).Round(time.Microsecond), "react": time.Since(t3).Round(time.Microsecond)}).Debug("admin command timing")
}

// safeError is an error for the audit trail: its first line, bounded.
func safeError(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func (b *Bot) reply(ctx context.Context, req *request, text string) {
	if _, err := req.bot.Reply(ctx, req.msg.Room, req.msg.Event, text); err != nil {
		b.Log.WithError(err).WithField("room", req.msg.Room).Warn("admin bot could not reply")
	}
}

func (b *Bot) audit(ctx context.Context, req *request, command, decision, detail string) int64 {
	return b.auditRef(ctx, req, command, "", decision, detail, 0)
}

func (b *Bot) auditTenant(ctx context.Context, req *request, command string, tenant config.TenantID, decision, detail string) int64 {
	return b.auditRef(ctx, req, command, tenant, decision, detail, 0)
}

func (b *Bot) auditRef(ctx context.Context, req *request, command string, tenant config.TenantID, decision, detail string, ref int64) int64 {
	idn, err := b.Store.AppendAudit(ctx, store.AuditEntry{
		At: b.now(), Sender: string(req.msg.Sender), Device: string(req.msg.Device), Room: string(req.msg.Room),
		EventID: string(req.msg.Event), Command: command, Input: req.msg.Body, Tenant: string(tenant),
		Decision: decision, Detail: detail, Ref: ref,
	})
	if err != nil {
		b.Log.WithError(err).Error("admin bot could not write the audit trail")
	}
	return idn
}

// code quotes user input for a reply: inline code, clipped, without
// backticks or line breaks.
func code(s string) string {
	s = strings.Map(func(r rune) rune {
		switch r {
		case '`', '\n', '\r':
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 100 {
		s = string(r[:100]) + "…"
	}
	return "`" + s + "`"
}

// errorf is a user-visible failure of a command.
func errorf(format string, args ...any) error { return &userError{fmt.Sprintf(format, args...)} }

type userError struct{ msg string }

func (e *userError) Error() string { return e.msg }
