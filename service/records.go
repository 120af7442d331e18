package service

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/bots/archive"
	"github.com/landesmessenger/landesmessenger/bots/matrixbot"
	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/provisioning"
	"github.com/landesmessenger/landesmessenger/provisioning/reconcile"
	"github.com/landesmessenger/landesmessenger/records"
)

// This file runs the archive bot inside serve (package bots/archive): its
// accounts, one running bot per homeserver, and the rooms it files from,
// which follow the desired state of the last plan.

// FaultEnv names a point of filing or deleting at which serve exits at once
// with FaultExitCode, for tests that kill the worker between filing and
// deleting (archive.FaultAfterFile and the Fault constants of retention.go).
const FaultEnv = "LM_RETENTION_FAULT"

// FaultExitCode is the exit code of serve stopped at the FaultEnv point.
const FaultExitCode = 75

// fault exits the process if point is the one FaultEnv names.
func (s *Service) fault(point string) {
	if v := os.Getenv(FaultEnv); v != "" && v == point {
		s.log.WithField("point", point).Error("stopping at the fault point (" + FaultEnv + ")")
		os.Exit(FaultExitCode)
	}
}

// desiredRooms is what the last plan wanted of the managed rooms, with
// their room IDs.
type desiredRooms struct {
	mu      sync.RWMutex
	desired *provisioning.Desired
	ids     map[provisioning.RoomKey]id.RoomID
	keys    map[id.RoomID]provisioning.RoomKey
	ready   chan struct{}
	once    sync.Once
}

func newDesiredRooms() *desiredRooms { return &desiredRooms{ready: make(chan struct{})} }

// noteDesired keeps want, the desired state of the plan just applied, and
// the room IDs the store knows now.
func (s *Service) noteDesired(ctx context.Context, want *provisioning.Desired) {
	if want == nil {
		return
	}
	rooms, err := s.Store.Rooms(ctx)
	if err != nil {
		s.log.WithError(err).Warn("cannot read the managed rooms")
		return
	}
	d := s.rooms
	d.mu.Lock()
	d.desired = want
	d.ids = map[provisioning.RoomKey]id.RoomID{}
	d.keys = map[id.RoomID]provisioning.RoomKey{}
	for _, r := range rooms {
		if r.RoomID != "" {
			d.ids[provisioning.RoomKey(r.Key)] = id.RoomID(r.RoomID)
			d.keys[id.RoomID(r.RoomID)] = provisioning.RoomKey(r.Key)
		}
	}
	d.mu.Unlock()
	d.once.Do(func() { close(d.ready) })
}

// wait waits until the first plan is noted; false if ctx ended first.
func (d *desiredRooms) wait(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return false
	case <-d.ready:
		return true
	}
}

// archived returns the key of room if the archive bot is a member of it
// by the desired state.
func (d *desiredRooms) archived(room id.RoomID) (string, bool) {
	r := d.archivedRoom(room)
	if r == nil {
		return "", false
	}
	return string(r.Key), true
}

// archivedRoom returns the desired room with the ID room if the archive
// bot is a member of it, else nil.
func (d *desiredRooms) archivedRoom(room id.RoomID) *provisioning.Room {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.desired == nil {
		return nil
	}
	r := d.desired.Rooms[d.keys[room]]
	if r == nil {
		return nil
	}
	a := d.desired.Archivists[r.Homeserver]
	if a == "" || !slices.Contains(r.Members, a) {
		return nil
	}
	return r
}

// snapshot returns the desired state and the room IDs.
func (d *desiredRooms) snapshot() (*provisioning.Desired, map[provisioning.RoomKey]id.RoomID) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.desired, d.ids
}

// recordsHook is the Engine's hook of records: the archive bot's accounts
// join the rooms the configuration's records section covers.
func (s *Service) recordsHook(_ context.Context, cfg *config.Config, people []provisioning.Person, env *provisioning.Environment) ([]provisioning.Person, error) {
	env.Archivists = provisioning.ArchivistUserIDs(cfg, env.ServerNames)
	return people, nil
}

// ensureArchivists makes the archive bot's accounts of want, as EnsureBots
// does for the admin bot.
func (s *Service) ensureArchivists(ctx context.Context, eng *reconcile.Engine, want map[config.HomeserverName]id.UserID) ([]BotAccount, error) {
	s.ensureBotsMu.Lock()
	defer s.ensureBotsMu.Unlock()
	var out []BotAccount
	for hs, user := range want {
		h := eng.Homeservers[hs]
		if h == nil {
			continue
		}
		acc, err := s.ensureBotAccount(ctx, h, user, archive.DisplayName)
		if err != nil {
			return nil, err
		}
		out = append(out, acc)
	}
	return out, nil
}

// archivistsInUse returns the archivists of want that are members of at
// least one of its rooms.
func archivistsInUse(want *provisioning.Desired) map[config.HomeserverName]id.UserID {
	out := map[config.HomeserverName]id.UserID{}
	for _, r := range want.Rooms {
		a := want.Archivists[r.Homeserver]
		if a != "" && slices.Contains(r.Members, a) {
			out[r.Homeserver] = a
		}
	}
	return out
}

// archivists are the running archive bots by homeserver.
type archivists struct {
	mu   sync.RWMutex
	bots map[config.HomeserverName]*matrixbot.Bot
}

func (a *archivists) set(hs config.HomeserverName, b *matrixbot.Bot) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if b == nil {
		delete(a.bots, hs)
	} else {
		a.bots[hs] = b
	}
}

func (a *archivists) get(hs config.HomeserverName) *matrixbot.Bot {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.bots[hs]
}

// newArchiveBot returns the archive bot of the service.
func (s *Service) newArchiveBot(cfg *config.Config, now func() time.Time) *archive.Bot {
	arch := records.New(s.Store, records.Options{Now: now})
	b := archive.New(s.Store, arch, s.rooms.archived, cfg.Admin.Language, s.log.WithField("component", "archive"))
	b.Fault = s.fault
	return b
}

// startArchive runs the archive bots until ctx ends: once a plan wanted
// archivists, their accounts exist and one bot per account runs.
func (s *Service) startArchive(ctx context.Context, eng *reconcile.Engine, ab *archive.Bot) *sync.WaitGroup {
	log := s.log.WithField("component", "archive")
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if !s.rooms.wait(ctx) {
			return
		}
		started := map[config.HomeserverName]bool{}
		for {
			want, _ := s.rooms.snapshot()
			if want != nil && len(want.Archivists) > 0 {
				accounts, err := s.ensureArchivists(ctx, eng, archivistsInUse(want))
				if err != nil {
					log.WithError(err).Warn("archive bot accounts not ready; trying again")
				}
				for _, acc := range accounts {
					if started[acc.Homeserver] {
						continue
					}
					started[acc.Homeserver] = true
					wg.Add(1)
					go func() {
						defer wg.Done()
						s.runArchiveBot(ctx, ab, acc, log.WithField("user_id", acc.UserID))
					}()
				}
			}
			if !sleepCtx(ctx, botRetry) {
				return
			}
		}
	}()
	return &wg
}

// runArchiveBot runs the archive bot of one account until ctx ends; a bot
// that cannot start is tried again every 30 s.
func (s *Service) runArchiveBot(ctx context.Context, ab *archive.Bot, acc BotAccount, log logrus.FieldLogger) {
	cfg := matrixbot.Config{
		HomeserverURL: acc.ClientURL, UserID: acc.UserID, Password: acc.Password, DeviceName: archive.DisplayName,
		DB: s.Store.DB(), PickleKey: matrixbot.PickleKeyFor(s.pickleSecret, acc.UserID), State: storeState{s}, Log: log,
		Rooms: func(room id.RoomID) bool {
			_, ok := s.rooms.archived(room)
			return ok
		},
		OnMessage:  ab.OnMessage,
		OnReaction: ab.OnReaction,
	}
	runBot(ctx, cfg, "archive bot", log, func(bot *matrixbot.Bot) { s.archivists.set(acc.Homeserver, bot) })
}

// archiveReader returns the running archive bot that reads room, nil if
// none does.
func (s *Service) archiveReader(room id.RoomID) *matrixbot.Bot {
	r := s.rooms.archivedRoom(room)
	if r == nil {
		return nil
	}
	return s.archivists.get(r.Homeserver)
}

// errNoArchivist: the archive bot of a room's homeserver is not running.
var errNoArchivist = fmt.Errorf("the archive bot is not running")
