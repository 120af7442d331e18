package onboarding

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/bots/matrixbot"
	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/provisioning"
	"github.com/landesmessenger/landesmessenger/store"
)

// SweepEvery is how often the service lets the bot look for people to ask,
// instructions to send and reminders that are due.
const SweepEvery = 5 * time.Second

// PeopleEvery is how often Sweep reads the people again (the directory may
// be an LDAP server).
const PeopleEvery = time.Minute

// DisplayName is the display name of the onboarding bot's accounts and
// devices.
const DisplayName = "Landesmessenger Einweisung"

// Env is what the bot needs of the running service.
type Env interface {
	// Config is the configuration in force.
	Config() *config.Config
	// People are the valid people of the directory with the overrides
	// applied, as the next plan sees them.
	People(ctx context.Context) ([]provisioning.Person, error)
	// Reconcile plans and applies now, serialized with the service's own
	// reconciles.
	Reconcile(ctx context.Context) error
}

// Chat is the onboarding bot's account on one homeserver, where it talks
// to the people of that homeserver only. Errors never contain a secret.
type Chat interface {
	// UserID is the bot's account.
	UserID() id.UserID
	// OpenDM creates an encrypted direct chat of the bot with the local
	// user and makes the user a joined member of it.
	OpenDM(ctx context.Context, user id.UserID) (id.RoomID, error)
	// HasDevices reports which of users have a device with encryption
	// keys, that is, which of them can read what the bot sends now.
	HasDevices(ctx context.Context, users []id.UserID) (map[id.UserID]bool, error)
	// Send sends markdown into room (encrypted), as a reply to inReplyTo
	// unless that is empty.
	Send(ctx context.Context, room id.RoomID, inReplyTo id.EventID, markdown string) (id.EventID, error)
	// React reacts to target with key.
	React(ctx context.Context, room id.RoomID, target id.EventID, key string) error
	// Secure makes an existing direct chat as closed as a new one: guests
	// forbidden, the server ACL to the bot's homeserver (issue 14,
	// finding 18).
	Secure(ctx context.Context, room id.RoomID) error
}

// Bot is the onboarding bot: it asks every provisioned person who has not
// acknowledged the instruction in force, in an encrypted direct chat on
// their own homeserver, records acknowledgements and reminds. Its methods
// are safe for concurrent use.
type Bot struct {
	env Env
	st  *store.Store
	log logrus.FieldLogger
	// Now is the clock; time.Now unless a test sets it before use.
	Now func() time.Time

	// mu serializes changes of the direct chats' records.
	mu    sync.Mutex
	chats map[config.HomeserverName]Chat

	roomsMu sync.RWMutex
	rooms   map[id.RoomID]bool
	// secured are the direct chats Secure has checked since the start.
	secured map[id.RoomID]bool

	// people are the people Sweep read last, at peopleAt, for peopleOf.
	people   []provisioning.Person
	peopleAt time.Time
	peopleOf *config.Config
}

// New returns a bot that keeps its records in st.
func New(env Env, st *store.Store, log logrus.FieldLogger) *Bot {
	return &Bot{env: env, st: st, log: log, Now: time.Now, chats: map[config.HomeserverName]Chat{}, rooms: map[id.RoomID]bool{}, secured: map[id.RoomID]bool{}}
}

// SetChat sets the bot's account on homeserver hs; nil removes it (the
// bot there stopped).
func (b *Bot) SetChat(hs config.HomeserverName, c Chat) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c == nil {
		delete(b.chats, hs)
	} else {
		b.chats[hs] = c
	}
}

// LoadRooms reads the direct chats from the store, so that IsDM knows them.
func (b *Bot) LoadRooms(ctx context.Context) error {
	dms, err := b.st.OnboardingDMs(ctx)
	if err != nil {
		return err
	}
	for _, dm := range dms {
		b.addRoom(id.RoomID(dm.RoomID))
	}
	return nil
}

// IsDM reports whether room is one of the bot's direct chats; it is the
// matrixbot.Config.Rooms of the bot's accounts.
func (b *Bot) IsDM(room id.RoomID) bool {
	b.roomsMu.RLock()
	defer b.roomsMu.RUnlock()
	return b.rooms[room]
}

func (b *Bot) addRoom(room id.RoomID) {
	b.roomsMu.Lock()
	defer b.roomsMu.Unlock()
	b.rooms[room] = true
}

// Run sweeps (see Sweep) at once and then every interval until ctx ends;
// failures are logged.
func (b *Bot) Run(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if err := b.Sweep(ctx); err != nil && ctx.Err() == nil {
			b.log.WithError(err).Warn("onboarding round failed")
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// asked is a person the bot asks, with their account and direct chat.
type asked struct {
	person provisioning.Person
	user   id.UserID
	chat   Chat
	dm     store.OnboardingDM
	// acks are the person's acknowledgements of earlier versions.
	acks map[string]store.OnboardingAck
}

// Sweep does what is due for everyone who has not acknowledged the version
// in force: once the person has a device that can read encrypted messages
// (they logged in), it opens a direct chat where there is none and sends
// the instruction; it reminds after ReminderAfter and every ReminderAfter
// after that. People whose homeserver has no running bot wait for the next
// sweep. The people are read again every PeopleEvery and when the
// configuration changes. Sweep returns an error only when it could not read
// what it needs; a failure for one person is logged and tried again next
// time.
func (b *Bot) Sweep(ctx context.Context) error {
	o := b.env.Config().Onboarding
	if !o.Enabled {
		return nil
	}
	instr, err := LoadInstruction(o)
	if err != nil {
		return err
	}
	now := b.Now()
	first, err := b.st.SeeOnboardingVersion(ctx, o.Version, now)
	if err != nil {
		return err
	}
	b.secureDMs(ctx)
	todo, err := b.toAsk(ctx, o)
	if err != nil {
		return err
	}
	waiting := map[Chat][]*asked{}
	for _, a := range todo {
		if a.dm.Version != o.Version {
			waiting[a.chat] = append(waiting[a.chat], a)
			continue
		}
		last := a.dm.SentAt
		if a.dm.RemindedAt.After(last) {
			last = a.dm.RemindedAt
		}
		if now.Sub(last) >= o.ReminderAfter {
			b.remind(ctx, a, o, hasAccess(a.acks, o, first, now), first.Add(o.Grace), now)
		}
	}
	for chat, list := range waiting {
		can, err := devices(ctx, chat, list)
		if err != nil {
			b.log.WithError(err).WithField("bot", chat.UserID().String()).Warn("cannot look up devices; trying again later")
			continue
		}
		for _, a := range list {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !can[a.user] {
				continue
			}
			if a.dm.RoomID == "" {
				if err := b.open(ctx, a); err != nil {
					b.log.WithError(err).WithField("user_id", a.user.String()).Warn("cannot open the direct chat; trying again later")
					continue
				}
			}
			b.send(ctx, a, instr, first.Add(o.Grace), now)
		}
	}
	return nil
}

// secureDMs checks every direct chat once after the start with Secure, so
// that chats made before they were closed like new ones get the same
// settings. A failure is tried again at the next sweep.
func (b *Bot) secureDMs(ctx context.Context) {
	dms, err := b.st.OnboardingDMs(ctx)
	if err != nil {
		b.log.WithError(err).Warn("cannot read the direct chats to secure them")
		return
	}
	b.mu.Lock()
	chats := map[string]Chat{}
	for _, c := range b.chats {
		chats[c.UserID().String()] = c
	}
	b.mu.Unlock()
	for _, dm := range dms {
		room := id.RoomID(dm.RoomID)
		chat := chats[dm.Bot]
		if room == "" || chat == nil || b.secured[room] || ctx.Err() != nil {
			continue
		}
		if err := chat.Secure(ctx, room); err != nil {
			b.log.WithError(err).WithField("room_id", dm.RoomID).Warn("cannot secure a direct chat; trying again at the next sweep")
			continue
		}
		b.secured[room] = true
	}
}

// devicesPerQuery bounds the people of one device look-up.
const devicesPerQuery = 500

// devices reports which of the people of list have a device that can read
// encrypted messages.
func devices(ctx context.Context, chat Chat, list []*asked) (map[id.UserID]bool, error) {
	out := map[id.UserID]bool{}
	for start := 0; start < len(list); start += devicesPerQuery {
		var users []id.UserID
		for _, a := range list[start:min(start+devicesPerQuery, len(list))] {
			users = append(users, a.user)
		}
		can, err := chat.HasDevices(ctx, users)
		if err != nil {
			return nil, err
		}
		for u, ok := range can {
			out[u] = ok
		}
	}
	return out, nil
}

// toAsk returns the provisioned, active people who have not acknowledged
// o.Version and whose homeserver has a running bot.
func (b *Bot) toAsk(ctx context.Context, o config.Onboarding) ([]*asked, error) {
	people, err := b.currentPeople(ctx)
	if err != nil {
		return nil, err
	}
	accounts, err := b.st.Accounts(ctx)
	if err != nil {
		return nil, err
	}
	acks, err := acknowledged(ctx, b.st)
	if err != nil {
		return nil, err
	}
	dms, err := b.st.OnboardingDMs(ctx)
	if err != nil {
		return nil, err
	}
	accountOf := map[provisioning.PersonID]store.ManagedAccount{}
	for _, a := range accounts {
		if a.Status == string(provisioning.AccountActive) {
			accountOf[provisioning.PersonID(a.Person)] = a
		}
	}
	dmOf := map[provisioning.PersonID]store.OnboardingDM{}
	for _, dm := range dms {
		dmOf[provisioning.PersonID(dm.Person)] = dm
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*asked
	for _, p := range people {
		acc, ok := accountOf[p.ID]
		if p.Disabled || p.External || !ok {
			continue
		}
		if _, done := acks[p.ID][o.Version]; done {
			continue
		}
		chat := b.chats[config.HomeserverName(acc.Homeserver)]
		if chat == nil {
			continue
		}
		a := &asked{person: p, user: id.UserID(acc.UserID), chat: chat, dm: dmOf[p.ID], acks: acks[p.ID]}
		if a.dm.UserID != acc.UserID || a.dm.Bot != chat.UserID().String() {
			// No chat yet, or one of another account (the person moved
			// to another homeserver): a new one.
			a.dm = store.OnboardingDM{}
		}
		out = append(out, a)
	}
	return out, nil
}

// currentPeople returns the people, read again when PeopleEvery passed or
// the configuration changed since the last read. Only Sweep calls it.
func (b *Bot) currentPeople(ctx context.Context) ([]provisioning.Person, error) {
	cfg, now := b.env.Config(), time.Now()
	if b.people != nil && cfg == b.peopleOf && now.Sub(b.peopleAt) < PeopleEvery {
		return b.people, nil
	}
	people, err := b.env.People(ctx)
	if err != nil {
		return nil, err
	}
	b.people, b.peopleAt, b.peopleOf = people, now, cfg
	return people, nil
}

// open opens the direct chat of a and records it.
func (b *Bot) open(ctx context.Context, a *asked) error {
	room, err := a.chat.OpenDM(ctx, a.user)
	if err == nil {
		b.secured[room] = true // made closed
	}
	if err != nil {
		return err
	}
	a.dm = store.OnboardingDM{Person: string(a.person.ID), UserID: a.user.String(), Bot: a.chat.UserID().String(), RoomID: room.String()}
	b.addRoom(room)
	if err := b.save(ctx, a.dm); err != nil {
		return err
	}
	b.log.WithFields(logrus.Fields{"user_id": a.user.String(), "room_id": room.String()}).Info("direct chat opened")
	return nil
}

// send sends the instruction into a's chat, after a notice when it
// replaces a version a acknowledged before.
func (b *Bot) send(ctx context.Context, a *asked, instr *Instruction, deadline, now time.Time) {
	log := b.log.WithFields(logrus.Fields{"user_id": a.user.String(), "room_id": a.dm.RoomID, "version": instr.Version})
	room := id.RoomID(a.dm.RoomID)
	if len(a.acks) > 0 {
		if _, err := a.chat.Send(ctx, room, "", newVersionText(instr.Version, deadline)); err != nil {
			log.WithError(err).Warn("cannot send the notice of a new version; trying again later")
			return
		}
	}
	ev, err := a.chat.Send(ctx, room, "", instr.Markdown)
	if err != nil {
		log.WithError(err).Warn("cannot send the instruction; trying again later")
		return
	}
	a.dm.Version, a.dm.EventID, a.dm.SentAt, a.dm.RemindedAt = instr.Version, ev.String(), now, time.Time{}
	if err := b.save(ctx, a.dm); err != nil {
		log.WithError(err).Error("instruction sent but not recorded")
		return
	}
	log.WithField("event_id", ev.String()).Info("instruction sent")
}

// remind sends a reminder as a reply to the instruction.
func (b *Bot) remind(ctx context.Context, a *asked, o config.Onboarding, access bool, deadline, now time.Time) {
	log := b.log.WithFields(logrus.Fields{"user_id": a.user.String(), "room_id": a.dm.RoomID, "version": o.Version})
	if _, err := a.chat.Send(ctx, id.RoomID(a.dm.RoomID), id.EventID(a.dm.EventID), reminderText(o.Version, access, deadline)); err != nil {
		log.WithError(err).Warn("cannot send a reminder; trying again later")
		return
	}
	a.dm.RemindedAt = now
	if err := b.save(ctx, a.dm); err != nil {
		log.WithError(err).Error("reminder sent but not recorded")
		return
	}
	log.Info("reminder sent")
}

func (b *Bot) save(ctx context.Context, dm store.OnboardingDM) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.st.SaveOnboardingDM(ctx, dm)
}

// HandleMessage handles a text message in one of the bot's direct chats:
// the person acknowledges with `bestätigt` (see IsAcknowledgement) and is
// answered; anything else gets a hint while the instruction waits for an
// acknowledgement. chat is the bot's account that received it.
func (b *Bot) HandleMessage(ctx context.Context, chat Chat, m *matrixbot.Message) {
	dm, o, ok := b.current(ctx, chat, m.Room, m.Sender)
	if !ok {
		return
	}
	if !IsAcknowledgement(m.Body) {
		if acked, err := b.hasAcked(ctx, dm.Person, o.Version); err == nil && !acked {
			b.reply(ctx, chat, m.Room, m.Event, hintText())
		}
		return
	}
	b.acknowledge(ctx, chat, dm, o, m.Event, m.Time, true)
}

// HandleReaction handles a reaction in one of the bot's direct chats: ✅
// on the instruction acknowledges it.
func (b *Bot) HandleReaction(ctx context.Context, chat Chat, r *matrixbot.Reaction) {
	dm, o, ok := b.current(ctx, chat, r.Room, r.Sender)
	if !ok || !isAckReaction(r.Key) || r.RelatesTo.String() != dm.EventID {
		return
	}
	b.acknowledge(ctx, chat, dm, o, r.Event, r.Time, false)
}

// current returns the direct chat in room if sender is its person and the
// instruction in force was sent there.
func (b *Bot) current(ctx context.Context, chat Chat, room id.RoomID, sender id.UserID) (*store.OnboardingDM, config.Onboarding, bool) {
	o := b.env.Config().Onboarding
	dm, err := b.st.OnboardingDMInRoom(ctx, room.String())
	if err != nil {
		b.log.WithError(err).WithField("room_id", room.String()).Error("cannot read the direct chat")
		return nil, o, false
	}
	if dm == nil || dm.UserID != sender.String() || dm.Bot != chat.UserID().String() || !o.Enabled ||
		dm.Version != o.Version || dm.EventID == "" {
		return nil, o, false
	}
	return dm, o, true
}

func (b *Bot) hasAcked(ctx context.Context, person, version string) (bool, error) {
	acks, err := acknowledged(ctx, b.st)
	if err != nil {
		return false, err
	}
	_, ok := acks[provisioning.PersonID(person)][version]
	return ok, nil
}

// acknowledge records the acknowledgement by event ev at t, lets
// provisioning open the person's rooms at once and tells them; answer
// says whether to answer with a reply to ev (a message) rather than in
// the chat (a reaction).
func (b *Bot) acknowledge(ctx context.Context, chat Chat, dm *store.OnboardingDM, o config.Onboarding, ev id.EventID, t time.Time, answer bool) {
	log := b.log.WithFields(logrus.Fields{"user_id": dm.UserID, "room_id": dm.RoomID, "version": o.Version, "event_id": ev.String()})
	instr, err := LoadInstruction(o)
	if err != nil {
		log.WithError(err).Error("cannot record the acknowledgement")
		return
	}
	if t.IsZero() {
		t = b.Now()
	}
	isNew, err := b.st.SaveOnboardingAck(ctx, store.OnboardingAck{
		Person: dm.Person, UserID: dm.UserID, Version: o.Version, At: t, EventID: ev.String(), TextHash: instr.Hash,
	})
	if err != nil {
		log.WithError(err).Error("cannot record the acknowledgement")
		return
	}
	reply := ev
	if !answer {
		reply = ""
	}
	if !isNew {
		if answer {
			b.reply(ctx, chat, id.RoomID(dm.RoomID), reply, alreadyText(o.Version))
		}
		return
	}
	log.Info("instruction acknowledged")
	opened := true
	if err := b.env.Reconcile(ctx); err != nil {
		opened = false
		if !errors.Is(err, context.Canceled) {
			log.WithError(err).Warn("reconcile after the acknowledgement failed; the next round opens the rooms")
		}
	}
	if answer {
		if err := chat.React(ctx, id.RoomID(dm.RoomID), ev, "✅"); err != nil {
			log.WithError(err).Warn("cannot react to the acknowledgement")
		}
	}
	b.reply(ctx, chat, id.RoomID(dm.RoomID), reply, confirmedText(o.Version, opened))
}

func (b *Bot) reply(ctx context.Context, chat Chat, room id.RoomID, to id.EventID, markdown string) {
	if _, err := chat.Send(ctx, room, to, markdown); err != nil {
		b.log.WithError(err).WithField("room_id", room.String()).Warn("cannot answer in the direct chat")
	}
}
