package service

import (
	"context"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/bots/matrixbot"
	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/homeserver"
	"github.com/landesmessenger/landesmessenger/provisioning/reconcile"
)

// BotDisplayName is the display name of the admin bot's accounts.
const BotDisplayName = "Landesmessenger Verwaltung"

// Names of the bot secrets kept in the store.
const (
	secretPassword = "password"
)

// BotAccount is an admin bot account with its password.
type BotAccount struct {
	Homeserver config.HomeserverName
	UserID     id.UserID
	ClientURL  string
	Password   string
}

// EnsureBots makes sure every admin bot account of eng's desired state
// exists and its password is known: a password is made and kept in the
// database before the account is created (a crash in between loses
// nothing); an account whose password was lost (a new database) gets a new
// one, ending its sessions.
func (s *Service) EnsureBots(ctx context.Context, eng *reconcile.Engine) ([]BotAccount, error) {
	// The reconcile loop and the bots' start both come here: one at a time,
	// so that one password is made and registered.
	s.ensureBotsMu.Lock()
	defer s.ensureBotsMu.Unlock()
	env := eng.Environment()
	var out []BotAccount
	for hs, bot := range env.Bots {
		h := eng.Homeservers[hs]
		if h == nil {
			continue
		}
		acc, err := s.ensureBotAccount(ctx, h, bot, BotDisplayName)
		if err != nil {
			return nil, err
		}
		out = append(out, acc)
	}
	return out, nil
}

// ensureBotAccount makes sure the bot account bot exists on h and its
// password is known (see EnsureBots); the caller holds ensureBotsMu.
func (s *Service) ensureBotAccount(ctx context.Context, h *reconcile.Homeserver, bot id.UserID, displayName string) (BotAccount, error) {
	localpart, _, err := bot.Parse()
	if err != nil {
		return BotAccount{}, err
	}
	pw, err := s.Store.BotSecret(ctx, bot.String(), secretPassword)
	if err != nil {
		return BotAccount{}, err
	}
	fresh := pw == ""
	if fresh {
		if pw, err = homeserver.RandomPassword(); err != nil {
			return BotAccount{}, err
		}
		if err := s.Store.SetBotSecret(ctx, bot.String(), secretPassword, pw); err != nil {
			return BotAccount{}, err
		}
	}
	_, created, err := h.Admin.CreateAccount(ctx, localpart, pw, displayName)
	if err != nil {
		return BotAccount{}, fmt.Errorf("bot %s: %w", bot, err)
	}
	if !created && fresh {
		if err := h.Admin.ResetPassword(ctx, bot, pw, true); err != nil {
			return BotAccount{}, fmt.Errorf("bot %s: %w", bot, err)
		}
		s.log.WithField("user_id", bot).Warn("bot account existed without a known password; gave it a new one")
	} else if created {
		s.log.WithFields(logrus.Fields{"user_id": bot, "homeserver": h.Name}).Info("bot account created")
	}
	return BotAccount{Homeserver: h.Name, UserID: bot, ClientURL: s.clientURL(h.Name), Password: pw}, nil
}

// clientURL returns the client URL of homeserver name.
func (s *Service) clientURL(name config.HomeserverName) string {
	for _, t := range s.Targets {
		if t.Endpoint.Name == string(name) {
			return t.Endpoint.ClientURL
		}
	}
	return ""
}

// botRetry is how long a bot that could not start waits before it tries
// again.
const botRetry = 30 * time.Second

// runBot runs a bot with cfg until ctx ends: it starts it, trying again
// every botRetry while it cannot, calls running with the bot once it runs
// and with nil when it stops. what names the bot in the log ("admin bot").
func runBot(ctx context.Context, cfg matrixbot.Config, what string, log logrus.FieldLogger, running func(*matrixbot.Bot)) {
	for {
		startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		bot, err := matrixbot.Start(startCtx, cfg)
		cancel()
		if err != nil {
			log.WithError(err).Warn(what + " could not start; retrying in 30 s")
			if !sleepCtx(ctx, botRetry) {
				return
			}
			continue
		}
		log.WithField("device_id", bot.DeviceID()).Info(what + " running")
		running(bot)
		<-ctx.Done()
		running(nil)
		if err := bot.Stop(); err != nil {
			log.WithError(err).Warn(what + " stopped with an error")
		}
		return
	}
}

// sleepCtx waits d and reports true, or false as soon as ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}
