package service

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/bots/matrixbot"
	"github.com/landesmessenger/landesmessenger/bots/onboarding"
	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/homeserver"
	"github.com/landesmessenger/landesmessenger/logging"
	"github.com/landesmessenger/landesmessenger/provisioning"
	"github.com/landesmessenger/landesmessenger/provisioning/reconcile"
	"github.com/landesmessenger/landesmessenger/store"
)

// This file runs onboarding inside serve: the provisioning hook that keeps
// people who have not acknowledged the data-protection instruction in
// their welcome room, and the onboarding bot on every homeserver with
// people (package bots/onboarding).

// onboardingHook is the Engine's hook of onboarding (see onboarding.Hook).
func (s *Service) onboardingHook(ctx context.Context, cfg *config.Config, people []provisioning.Person, env *provisioning.Environment) ([]provisioning.Person, error) {
	return onboarding.Hook(s.Store, time.Now)(ctx, cfg, people, env)
}

// onboardingEnv is the onboarding bot's view of the service.
type onboardingEnv struct {
	s   *Service
	eng *reconcile.Engine
}

var _ onboarding.Env = onboardingEnv{}

func (e onboardingEnv) Config() *config.Config { return e.eng.Config }

func (e onboardingEnv) People(ctx context.Context) ([]provisioning.Person, error) {
	return e.eng.People(ctx)
}

func (e onboardingEnv) Reconcile(ctx context.Context) error {
	_, res, err := e.s.Reconcile(ctx, e.eng, false, nil)
	if err != nil {
		return err
	}
	text := "in sync"
	if res != nil {
		text = fmt.Sprintf("%d done, %d failed (onboarding)", res.Done, res.Failed)
	}
	e.s.health.reconciled(text)
	e.s.refreshAdminRooms(ctx)
	if res != nil && res.Failed > 0 {
		return fmt.Errorf("reconcile: %d of %d actions failed", res.Failed, res.Done+res.Failed)
	}
	return nil
}

// onboardingHomeservers are the homeservers with people: those of the
// tenants, in the order of the configuration.
func onboardingHomeservers(cfg *config.Config) []config.HomeserverName {
	var out []config.HomeserverName
	for _, hs := range cfg.Homeservers {
		if len(cfg.TenantsOn(hs.Name)) > 0 {
			out = append(out, hs.Name)
		}
	}
	return out
}

// ensureOnboardingBots makes the onboarding bot's account on every
// homeserver with people, as EnsureBots does for the admin bot.
func (s *Service) ensureOnboardingBots(ctx context.Context, eng *reconcile.Engine) ([]BotAccount, error) {
	s.ensureBotsMu.Lock()
	defer s.ensureBotsMu.Unlock()
	cfg := eng.Config
	var out []BotAccount
	for _, hs := range onboardingHomeservers(cfg) {
		h := eng.Homeservers[hs]
		if h == nil {
			continue
		}
		acc, err := s.ensureBotAccount(ctx, h, id.NewUserID(cfg.Onboarding.BotLocalpart, h.ServerName), onboarding.DisplayName)
		if err != nil {
			return nil, err
		}
		out = append(out, acc)
	}
	return out, nil
}

// startOnboarding runs onboarding until ctx ends: once the configuration
// enables it (at start or after a change), it makes the bot accounts, runs
// one bot per account, and sweeps every onboarding.SweepEvery.
func (s *Service) startOnboarding(ctx context.Context, eng *reconcile.Engine) *sync.WaitGroup {
	log := s.log.WithField("component", "onboarding")
	ob := onboarding.New(onboardingEnv{s: s, eng: eng}, s.Store, log)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(onboarding.SweepEvery)
		defer tick.Stop()
		running := false
		for {
			if eng.Config.Onboarding.Enabled {
				if !running {
					running = s.startOnboardingBots(ctx, eng, ob, &wg, log)
				}
				if err := ob.Sweep(ctx); err != nil && ctx.Err() == nil {
					log.WithError(err).Warn("onboarding round failed; trying again")
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return &wg
}

// startOnboardingBots makes the accounts and starts their bots; it reports
// whether it did.
func (s *Service) startOnboardingBots(ctx context.Context, eng *reconcile.Engine, ob *onboarding.Bot, wg *sync.WaitGroup, log logrus.FieldLogger) bool {
	if err := ob.LoadRooms(ctx); err != nil {
		log.WithError(err).Warn("onboarding: cannot read the direct chats; trying again")
		return false
	}
	accounts, err := s.ensureOnboardingBots(ctx, eng)
	if err != nil {
		log.WithError(err).Warn("onboarding bot accounts not ready; trying again")
		return false
	}
	for _, acc := range accounts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.runOnboardingBot(ctx, eng, ob, acc, log.WithField("user_id", acc.UserID))
		}()
	}
	return true
}

// runOnboardingBot runs the onboarding bot of one account until ctx ends;
// a bot that cannot start is tried again every 30 s.
func (s *Service) runOnboardingBot(ctx context.Context, eng *reconcile.Engine, ob *onboarding.Bot, acc BotAccount, log logrus.FieldLogger) {
	chat := func(b *matrixbot.Bot) *onboardingChat {
		return &onboardingChat{s: s, hs: eng.Homeservers[acc.Homeserver], acc: acc, bot: b, log: log}
	}
	cfg := matrixbot.Config{
		HomeserverURL: acc.ClientURL, UserID: acc.UserID, Password: acc.Password, DeviceName: onboarding.DisplayName,
		DB: s.Store.DB(), PickleKey: matrixbot.PickleKeyFor(s.pickleSecret, acc.UserID), State: storeState{s}, Log: log, Rooms: ob.IsDM,
		OnMessage: func(ctx context.Context, b *matrixbot.Bot, m *matrixbot.Message) {
			ob.HandleMessage(ctx, chat(b), m)
		},
		OnReaction: func(ctx context.Context, b *matrixbot.Bot, r *matrixbot.Reaction) {
			ob.HandleReaction(ctx, chat(b), r)
		},
	}
	runBot(ctx, cfg, "onboarding bot", log, func(bot *matrixbot.Bot) {
		if bot == nil {
			ob.SetChat(acc.Homeserver, nil)
		} else {
			ob.SetChat(acc.Homeserver, chat(bot))
		}
	})
}

// onboardingChat is the onboarding bot's account on one homeserver.
type onboardingChat struct {
	s   *Service
	hs  *reconcile.Homeserver
	acc BotAccount
	bot *matrixbot.Bot
	log logrus.FieldLogger
}

var _ onboarding.Chat = (*onboardingChat)(nil)

func (c *onboardingChat) UserID() id.UserID { return c.acc.UserID }

// client is the bot's account without crypto, for what is never encrypted
// (creating rooms, looking up devices): the running bot's session.
func (c *onboardingChat) client(ctx context.Context) (*mautrix.Client, error) {
	token, err := c.s.Store.BotSecret(ctx, c.acc.UserID.String(), matrixbot.SecretAccessToken)
	if err != nil {
		return nil, err
	}
	if token == "" {
		return nil, fmt.Errorf("bot %s has no session yet", c.acc.UserID)
	}
	return c.newClient(c.acc.UserID, token)
}

func (c *onboardingChat) newClient(user id.UserID, token string) (*mautrix.Client, error) {
	cli, err := mautrix.NewClient(c.acc.ClientURL, user, token)
	if err != nil {
		return nil, err
	}
	cli.Log = logging.Zerolog(c.log.WithField("component", "mautrix"))
	return cli, nil
}

// OpenDM creates the encrypted direct chat, invites the person and the
// service account, lets the service account join the person (which needs a
// member with the right to invite) and leave again, and marks the chat as
// direct in the person's account data where the homeserver lets the
// service act as the person. A chat left half made is left by the bot.
func (c *onboardingChat) OpenDM(ctx context.Context, user id.UserID) (id.RoomID, error) {
	if c.hs == nil {
		return "", fmt.Errorf("homeserver %s: not connected", c.acc.Homeserver)
	}
	cli, err := c.client(ctx)
	if err != nil {
		return "", err
	}
	service := c.hs.Client.UserID
	// Like every managed room: encrypted, no guests, and closed to other
	// servers (never federated, and an ACL to the bot's own homeserver;
	// issue 14, finding 18).
	resp, err := cli.CreateRoom(ctx, &mautrix.ReqCreateRoom{
		Preset:          "private_chat",
		IsDirect:        true,
		Invite:          []id.UserID{user, service},
		CreationContent: map[string]any{"m.federate": false},
		InitialState: []*event.Event{{
			Type: event.StateEncryption, StateKey: new(string),
			Content: event.Content{Parsed: &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}},
		}, {
			Type: event.StateGuestAccess, StateKey: new(string),
			Content: event.Content{Parsed: &event.GuestAccessEventContent{GuestAccess: event.GuestAccessForbidden}},
		}, {
			Type: event.StateServerACL, StateKey: new(string),
			Content: event.Content{Parsed: c.dmACL()},
		}},
	})
	if err != nil {
		return "", fmt.Errorf("create the direct chat with %s: %w", user, err)
	}
	room := resp.RoomID
	err = c.join(ctx, room, user)
	if _, lerr := c.hs.Client.LeaveRoom(ctx, room); lerr != nil && err == nil {
		err = fmt.Errorf("service account leaving the direct chat with %s: %w", user, lerr)
	}
	if err != nil {
		if _, lerr := cli.LeaveRoom(ctx, room); lerr != nil {
			c.log.WithError(lerr).WithField("room_id", room.String()).Warn("cannot leave a direct chat left half made")
		}
		return "", err
	}
	if err := c.markDirect(ctx, user, room); err != nil {
		c.log.WithError(err).WithField("user_id", user.String()).Info("direct chat not marked as direct in the person's account data")
	}
	return room, nil
}

// dmACL is the server ACL of a direct chat: the bot's own homeserver only.
func (c *onboardingChat) dmACL() *event.ServerACLEventContent {
	server := c.acc.UserID.Homeserver()
	host := server
	if h, _, err := net.SplitHostPort(server); err == nil {
		host = h
	}
	return &event.ServerACLEventContent{Allow: []string{host}, Deny: []string{}, AllowIPLiterals: net.ParseIP(strings.Trim(host, "[]")) != nil}
}

// Secure makes an existing direct chat like a new one: guests forbidden
// and the server ACL to the bot's own homeserver (a chat made before
// finding 18 was fixed had neither). It changes only what differs.
func (c *onboardingChat) Secure(ctx context.Context, room id.RoomID) error {
	cli, err := c.client(ctx)
	if err != nil {
		return err
	}
	var guests event.GuestAccessEventContent
	if err := cli.StateEvent(ctx, room, event.StateGuestAccess, "", &guests); err != nil && !errors.Is(err, mautrix.MNotFound) {
		return fmt.Errorf("read guest access of %s: %w", room, err)
	}
	if guests.GuestAccess != event.GuestAccessForbidden {
		if _, err := cli.SendStateEvent(ctx, room, event.StateGuestAccess, "", &event.GuestAccessEventContent{GuestAccess: event.GuestAccessForbidden}); err != nil {
			return fmt.Errorf("forbid guests in %s: %w", room, err)
		}
	}
	want := c.dmACL()
	var acl event.ServerACLEventContent
	if err := cli.StateEvent(ctx, room, event.StateServerACL, "", &acl); err != nil && !errors.Is(err, mautrix.MNotFound) {
		return fmt.Errorf("read the server ACL of %s: %w", room, err)
	}
	if !slices.Equal(acl.Allow, want.Allow) || len(acl.Deny) != 0 || acl.AllowIPLiterals != want.AllowIPLiterals {
		if _, err := cli.SendStateEvent(ctx, room, event.StateServerACL, "", want); err != nil {
			return fmt.Errorf("set the server ACL of %s: %w", room, err)
		}
	}
	return nil
}

func (c *onboardingChat) join(ctx context.Context, room id.RoomID, user id.UserID) error {
	if _, err := c.hs.Client.JoinRoomByID(ctx, room); err != nil {
		return fmt.Errorf("service account joining the direct chat with %s: %w", user, err)
	}
	if err := c.hs.Admin.Join(ctx, room, user); err != nil {
		return fmt.Errorf("direct chat: %w", err)
	}
	return nil
}

// markDirect adds room to the m.direct account data of user, acting as
// the user: through the appservice on Dendrite, through a short admin
// login as the user on Synapse.
func (c *onboardingChat) markDirect(ctx context.Context, user id.UserID, room id.RoomID) error {
	cli, done, err := c.asUser(ctx, user)
	if err != nil {
		return err
	}
	defer done()
	direct := map[id.UserID][]id.RoomID{}
	if err := cli.GetAccountData(ctx, event.AccountDataDirectChats.Type, &direct); err != nil && !errors.Is(err, mautrix.MNotFound) {
		return fmt.Errorf("read m.direct of %s: %w", user, err)
	}
	direct[c.acc.UserID] = append(direct[c.acc.UserID], room)
	if err := cli.SetAccountData(ctx, event.AccountDataDirectChats.Type, direct); err != nil {
		return fmt.Errorf("write m.direct of %s: %w", user, err)
	}
	return nil
}

// asUser returns a client acting as the local user and what ends it.
func (c *onboardingChat) asUser(ctx context.Context, user id.UserID) (*mautrix.Client, func(), error) {
	conn, target := c.s.conn(c.acc.Homeserver)
	if conn == nil {
		return nil, nil, fmt.Errorf("homeserver %s: not connected", c.acc.Homeserver)
	}
	switch conn.Implementation {
	case homeserver.Dendrite:
		cli, err := c.newClient(user, target.Admin.AppserviceToken)
		if err != nil {
			return nil, nil, err
		}
		cli.SetAppServiceUserID = true
		return cli, func() {}, nil
	case homeserver.Synapse:
		var login struct {
			AccessToken string `json:"access_token"`
		}
		url := conn.Client.BuildURL(mautrix.SynapseAdminURLPath{"v1", "users", user, "login"})
		req := struct {
			ValidUntil int64 `json:"valid_until_ms"`
		}{time.Now().Add(5 * time.Minute).UnixMilli()}
		if _, err := conn.Client.MakeRequest(ctx, http.MethodPost, url, &req, &login); err != nil {
			return nil, nil, fmt.Errorf("log in as %s: %w", user, err)
		}
		cli, err := c.newClient(user, login.AccessToken)
		if err != nil {
			return nil, nil, err
		}
		return cli, func() { _, _ = cli.Logout(context.WithoutCancel(ctx)) }, nil
	}
	return nil, nil, fmt.Errorf("acting as a user on %s: %w", conn.Implementation, homeserver.ErrUnsupported)
}

func (c *onboardingChat) HasDevices(ctx context.Context, users []id.UserID) (map[id.UserID]bool, error) {
	cli, err := c.client(ctx)
	if err != nil {
		return nil, err
	}
	req := &mautrix.ReqQueryKeys{DeviceKeys: mautrix.DeviceKeysRequest{}}
	for _, u := range users {
		req.DeviceKeys[u] = mautrix.DeviceIDList{}
	}
	resp, err := cli.QueryKeys(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("look up the devices of %d people: %w", len(users), err)
	}
	out := map[id.UserID]bool{}
	for _, u := range users {
		out[u] = len(resp.DeviceKeys[u]) > 0
	}
	return out, nil
}

func (c *onboardingChat) Send(ctx context.Context, room id.RoomID, inReplyTo id.EventID, markdown string) (id.EventID, error) {
	return c.bot.Reply(ctx, room, inReplyTo, markdown)
}

func (c *onboardingChat) React(ctx context.Context, room id.RoomID, target id.EventID, key string) error {
	_, err := c.bot.React(ctx, room, target, key)
	return err
}

// conn returns the connection and target of homeserver name.
func (s *Service) conn(name config.HomeserverName) (*homeserver.Conn, Target) {
	for i, c := range s.Conns {
		if c.Endpoint.Name == string(name) {
			return c, s.Targets[i]
		}
	}
	return nil, Target{}
}

// OnboardingReport is `landesmessenger onboarding report`: where every
// person of cfg (of tenant, if set) stands with the instruction in force,
// read from the directory, the overrides and st, without connecting to the
// homeservers.
func OnboardingReport(ctx context.Context, cfg *config.Config, st *store.Store, log logrus.FieldLogger, tenant config.TenantID) ([]onboarding.Entry, error) {
	if tenant != "" {
		if _, ok := cfg.Tenant(tenant); !ok {
			var ids []string
			for _, t := range cfg.Tenants {
				ids = append(ids, string(t.ID))
			}
			sort.Strings(ids)
			return nil, fmt.Errorf("unknown tenant %q (configured: %v)", tenant, ids)
		}
	}
	targets, err := Resolve(cfg)
	if err != nil {
		return nil, err
	}
	serverNames := map[config.HomeserverName]string{}
	for _, t := range targets {
		serverNames[config.HomeserverName(t.Endpoint.Name)] = t.Endpoint.ServerName
	}
	eng := &reconcile.Engine{Config: cfg, Store: st, Log: log}
	people, err := eng.People(ctx)
	if err != nil {
		return nil, err
	}
	return onboarding.Report(ctx, st, onboarding.Query{
		Onboarding: cfg.Onboarding, People: people, Tenant: tenant, Now: time.Now(),
		UserID: func(p provisioning.Person) id.UserID {
			t, _ := cfg.Tenant(p.Tenant)
			return id.NewUserID(string(p.ID), serverNames[t.Homeserver])
		},
	})
}
