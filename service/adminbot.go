package service

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/bots/admin"
	"github.com/landesmessenger/landesmessenger/bots/matrixbot"
	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/federation"
	"github.com/landesmessenger/landesmessenger/provisioning"
	"github.com/landesmessenger/landesmessenger/provisioning/reconcile"
)

// health is what `status` reports besides the homeservers.
type health struct {
	mu            sync.Mutex
	lastReconcile time.Time
	lastText      string
	configProblem string
}

func (h *health) reconciled(text string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastReconcile, h.lastText = time.Now(), text
}

func (h *health) setConfigProblem(p string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.configProblem = p
}

// adminEnv is the admin bot's view of the service.
type adminEnv struct {
	s   *Service
	eng *reconcile.Engine
}

var _ admin.Env = adminEnv{}

func (e adminEnv) Config() *config.Config { return e.eng.Config }

func (e adminEnv) People(ctx context.Context) ([]provisioning.Person, error) {
	return e.eng.People(ctx)
}

func (e adminEnv) UserID(p provisioning.Person) id.UserID {
	t, ok := e.eng.Config.Tenant(p.Tenant)
	if !ok {
		return ""
	}
	name := t.Homeserver
	if p.External && p.Homeserver != "" {
		name = p.Homeserver // guests live where the config says
	}
	hs := e.eng.Homeservers[name]
	if hs == nil {
		return ""
	}
	return id.NewUserID(string(p.ID), hs.ServerName)
}

func (e adminEnv) Plan(ctx context.Context) (*reconcile.Outcome, error) {
	return e.eng.Plan(ctx, reconcile.Options(e.eng.Config, false))
}

func (e adminEnv) Apply(ctx context.Context) (*reconcile.Outcome, *reconcile.Result, error) {
	out, res, err := e.s.Reconcile(ctx, e.eng, false, nil)
	if err == nil {
		text := "in sync"
		if res != nil {
			text = fmt.Sprintf("%d done, %d failed (admin bot)", res.Done, res.Failed)
		}
		e.s.health.reconciled(text)
	}
	e.s.refreshAdminRooms(ctx)
	return out, res, err
}

func (e adminEnv) Federation() *federation.List {
	if e.s.lists == nil {
		return nil
	}
	return e.s.lists.Current()
}

func (e adminEnv) Status(ctx context.Context) admin.Status {
	s := e.s
	st := admin.Status{Version: s.version}
	for i, c := range s.Conns {
		st.Homeservers = append(st.Homeservers, fmt.Sprintf("%s (%s, %s)", s.Targets[i].Endpoint.Name, c.Implementation, s.Targets[i].Endpoint.ServerName))
	}
	s.health.mu.Lock()
	st.LastReconcile, st.LastReconcileText = s.health.lastReconcile, s.health.lastText
	if s.health.configProblem != "" {
		st.Problems = append(st.Problems, "configuration: "+s.health.configProblem)
	}
	s.health.mu.Unlock()
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.Store.DB().RawDB.PingContext(pingCtx); err != nil {
		st.Problems = append(st.Problems, "database: "+err.Error())
	}
	return st
}

// storeState keeps the bots' secrets and handled events in the store.
type storeState struct{ s *Service }

func (st storeState) FirstHandling(ctx context.Context, bot id.UserID, ev id.EventID) (bool, error) {
	return st.s.Store.FirstHandling(ctx, bot.String(), ev.String())
}

func (st storeState) Secret(ctx context.Context, bot id.UserID, name string) (string, error) {
	return st.s.Store.BotSecret(ctx, bot.String(), name)
}

func (st storeState) SetSecret(ctx context.Context, bot id.UserID, name, value string) error {
	return st.s.Store.SetBotSecret(ctx, bot.String(), name, value)
}

// refreshAdminRooms tells the admin bot its management rooms.
func (s *Service) refreshAdminRooms(ctx context.Context) {
	if s.adminBot == nil {
		return
	}
	rooms, err := s.Store.Rooms(ctx)
	if err != nil {
		s.log.WithError(err).Warn("admin bot: reading the managed rooms failed")
		return
	}
	s.adminBot.SetRooms(admin.RoomsFromStore(rooms))
}

// startAdminBot ensures the bot accounts and runs one bot per account
// until ctx ends. A bot that cannot start is retried every 30 s.
func (s *Service) startAdminBot(ctx context.Context, eng *reconcile.Engine) *sync.WaitGroup {
	log := s.log.WithField("component", "admin-bot")
	s.adminBot = admin.New(adminEnv{s: s, eng: eng}, s.Store, log)
	s.refreshAdminRooms(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var accounts []BotAccount
		for {
			var err error
			if accounts, err = s.EnsureBots(ctx, eng); err == nil {
				break
			}
			log.WithError(err).Warn("admin bot accounts not ready; retrying in 30 s")
			if !sleepCtx(ctx, botRetry) {
				return
			}
		}
		for _, acc := range accounts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.runBot(ctx, acc, log.WithField("user_id", acc.UserID))
			}()
		}
	}()
	return &wg
}

// runBot runs one bot account until ctx ends.
func (s *Service) runBot(ctx context.Context, acc BotAccount, log logrus.FieldLogger) {
	ab := s.adminBot
	cfg := matrixbot.Config{
		HomeserverURL: acc.ClientURL, UserID: acc.UserID, Password: acc.Password, DeviceName: BotDisplayName,
		DB: s.Store.DB(), PickleKey: matrixbot.PickleKeyFor(s.pickleSecret, acc.UserID), State: storeState{s}, Log: log, Rooms: ab.IsManagementRoom,
		OnMessage: func(ctx context.Context, b *matrixbot.Bot, m *matrixbot.Message) {
			ab.HandleMessage(ctx, b, &admin.Message{
				Room: m.Room, Event: m.Event, Sender: m.Sender, Device: m.Device, Body: m.Body, FormattedBody: m.FormattedBody,
				Trusted: m.Trust >= id.TrustStateCrossSignedTOFU, Time: m.Time,
			})
		},
		OnReaction: func(ctx context.Context, b *matrixbot.Bot, r *matrixbot.Reaction) {
			ab.HandleReaction(ctx, b, &admin.Reaction{
				Room: r.Room, Event: r.Event, Sender: r.Sender, Device: r.Device, RelatesTo: r.RelatesTo, Key: r.Key,
				Trusted: r.Trust >= id.TrustStateCrossSignedTOFU, Time: r.Time,
			})
		},
	}
	runBot(ctx, cfg, "admin bot", log, func(bot *matrixbot.Bot) {
		s.botsMu.Lock()
		defer s.botsMu.Unlock()
		if bot == nil {
			delete(s.bots, acc.Homeserver)
		} else {
			s.bots[acc.Homeserver] = bot
		}
	})
}

// notifyLand posts text into the Land-wide admin room through the bot of
// its homeserver (for what the Land's admins must know at once, such as a
// refused federation list). Without a running bot it only logs.
func (s *Service) notifyLand(ctx context.Context, text string) {
	cfg := s.Config
	s.botsMu.Lock()
	bot := s.bots[cfg.Admin.Homeserver]
	s.botsMu.Unlock()
	room := ""
	if rooms, err := s.Store.Rooms(ctx); err == nil {
		for _, r := range rooms {
			if provisioning.RoomKey(r.Key) == provisioning.LandAdminRoom {
				room = r.RoomID
			}
		}
	}
	if bot == nil || room == "" {
		s.log.WithField("notice", text).Warn("notice for the Land admin room not posted: no admin bot running there yet")
		return
	}
	if _, err := bot.Reply(ctx, id.RoomID(room), "", "⚠️ "+text); err != nil {
		s.log.WithError(err).Warn("notice for the Land admin room not posted")
	}
}
