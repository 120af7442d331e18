package matrixbot

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// syncRetryDelay is the pause before a sync loop that failed starts again.
const syncRetryDelay = 5 * time.Second

// inviteTimeout is how long an invite into a room that is not one of the
// bot's waits, in case Rooms comes to include it, before the bot declines it.
const inviteTimeout = 10 * time.Minute

// everything matches every event type in a filter.
var everything = []event.Type{{Type: "*"}}

// syncFilter keeps a bot's sync light: no presence, typing, receipts or
// account data; room state in full (no lazy loading), since encrypting for a
// room needs all its members.
var syncFilter = mautrix.Filter{
	Presence:    &mautrix.FilterPart{NotTypes: everything},
	AccountData: &mautrix.FilterPart{NotTypes: everything},
	Room: &mautrix.RoomFilter{
		Ephemeral:   &mautrix.FilterPart{NotTypes: everything},
		AccountData: &mautrix.FilterPart{NotTypes: everything},
		Timeline:    &mautrix.FilterPart{Limit: 50},
	},
}

// syncer is mautrix's default syncer that also tells the bot when a sync
// response is processed.
type syncer struct {
	*mautrix.DefaultSyncer
	processed func()
}

func newSyncer(b *Bot) *syncer {
	s := &syncer{DefaultSyncer: mautrix.NewDefaultSyncer(), processed: b.synced}
	filter := syncFilter
	s.FilterJSON = &filter
	return s
}

// ProcessResponse dispatches the events of a sync response.
func (s *syncer) ProcessResponse(ctx context.Context, resp *mautrix.RespSync, since string) error {
	err := s.DefaultSyncer.ProcessResponse(ctx, resp, since)
	s.processed()
	return err
}

func (b *Bot) synced() {
	b.firstSyncOnce.Do(func() { close(b.firstSync) })
}

// listen registers the bot's handlers; the crypto helper registered its own
// (decryption, device lists, room keys) when it was initialized.
func (b *Bot) listen() {
	s := b.cli.Syncer.(*syncer)
	s.OnEvent(b.cli.StateStoreSyncHandler)
	s.OnSync(b.onSync)
	s.OnEventType(event.StateMember, b.onMember)
	s.OnEventType(event.EventMessage, b.onMessage)
	s.OnEventType(event.EventReaction, b.onReaction)
}

// syncLoop syncs until ctx ends. A revoked access token is replaced by a
// password login into the same device.
func (b *Bot) syncLoop(ctx context.Context) {
	defer close(b.syncDone)
	for {
		err := b.cli.SyncWithContext(ctx)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, mautrix.MUnknownToken) {
			b.log.Warn("access token was revoked; logging in again")
			if err = b.passwordLogin(ctx, b.cli.DeviceID); err == nil {
				continue
			}
		}
		b.log.WithError(err).Error("sync failed; retrying")
		select {
		case <-ctx.Done():
			return
		case <-time.After(syncRetryDelay):
		}
	}
}

func (b *Bot) onDecryptError(evt *event.Event, err error) {
	b.log.WithError(err).WithFields(logrus.Fields{
		"room_id": evt.RoomID.String(), "event_id": evt.ID.String(), "sender": evt.Sender.String(),
	}).Warn("cannot decrypt event")
}

// invites are the rooms the bot is invited to and has not joined yet, with
// the time each invite was seen.
type invites struct {
	mu      sync.Mutex
	pending map[id.RoomID]time.Time
}

func (b *Bot) onMember(ctx context.Context, evt *event.Event) {
	if evt.GetStateKey() != b.cfg.UserID.String() || evt.Mautrix.EventSource&event.SourceInvite == 0 ||
		evt.Content.AsMember().Membership != event.MembershipInvite {
		return
	}
	b.invites.mu.Lock()
	if b.invites.pending == nil {
		b.invites.pending = make(map[id.RoomID]time.Time)
	}
	if _, ok := b.invites.pending[evt.RoomID]; !ok {
		b.invites.pending[evt.RoomID] = time.Now()
		b.log.WithFields(logrus.Fields{"room_id": evt.RoomID.String(), "inviter": evt.Sender.String()}).Info("invited")
	}
	b.invites.mu.Unlock()
	b.answerInvites(ctx)
}

// onSync forgets invites that were answered elsewhere or withdrawn and
// answers the others again, since Rooms may have changed.
func (b *Bot) onSync(ctx context.Context, resp *mautrix.RespSync, _ string) bool {
	b.invites.mu.Lock()
	for room := range b.invites.pending {
		_, joined := resp.Rooms.Join[room]
		_, left := resp.Rooms.Leave[room]
		if joined || left {
			delete(b.invites.pending, room)
		}
	}
	b.invites.mu.Unlock()
	b.answerInvites(ctx)
	return true
}

// answerInvites joins the pending rooms that are the bot's and declines the
// others once they waited inviteTimeout. A failed join is tried again after
// the next sync.
func (b *Bot) answerInvites(ctx context.Context) {
	b.invites.mu.Lock()
	defer b.invites.mu.Unlock()
	for room, since := range b.invites.pending {
		log := b.log.WithField("room_id", room.String())
		switch {
		case b.cfg.Rooms(room):
			if _, err := b.cli.JoinRoomByID(ctx, room); err != nil {
				log.WithError(err).Warn("cannot join room; trying again after the next sync")
				continue
			}
			log.Info("joined room")
		case time.Since(since) > inviteTimeout:
			if _, err := b.cli.LeaveRoom(ctx, room); err != nil {
				log.WithError(err).Warn("cannot decline invite; trying again after the next sync")
				continue
			}
			log.Info("declined invite into a room that is not the bot's")
		default:
			continue
		}
		delete(b.invites.pending, room)
	}
}
