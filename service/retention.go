package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/bots/archive"
	"github.com/landesmessenger/landesmessenger/bots/matrixbot"
	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/homeserver"
	"github.com/landesmessenger/landesmessenger/provisioning"
	"github.com/landesmessenger/landesmessenger/retention"
	"github.com/landesmessenger/landesmessenger/store"
)

// This file is the retention worker of serve: every retention.sweep_every
// it reads the timeline of every managed room with a maximum lifetime,
// files what members marked and the archive bot has not filed yet, and
// deletes the messages retention.Plan allows: purged on Synapse where a
// run of them starts the room, redacted otherwise (Dendrite always), with
// their media where the homeserver can delete media, and each logged once
// in the deletion log.

// The fault points of the sweep (see FaultEnv).
const (
	// FaultBeforeDelete: marks are filed, nothing of the room deleted.
	FaultBeforeDelete = "before-delete"
	// FaultAfterRedact: a message is redacted, not yet logged.
	FaultAfterRedact = "after-redact"
	// FaultBeforePurge: the messages to purge are logged, not purged.
	FaultBeforePurge = "before-purge"
)

// Environment variables for tests only.
const (
	// RetentionNowEnv fixes the retention worker's clock at an RFC 3339
	// time, so that a test decides which messages are past their maximum.
	RetentionNowEnv = "LM_RETENTION_NOW"
	// RetentionEveryEnv replaces retention.sweep_every.
	RetentionEveryEnv = "LM_RETENTION_EVERY"
)

// RedactConcurrency is how many redactions a sweep has in flight.
const RedactConcurrency = 8

// undecryptableGrace is how long a reply or reaction the sweep cannot
// decrypt keeps the message it refers to (it might be a mark whose keys
// have not arrived yet).
const undecryptableGrace = 7 * 24 * time.Hour

// deletionReason is the reason of retention's redactions, shown by clients.
const deletionReason = "Aufbewahrungsfrist abgelaufen (retention period expired)"

// retentionClock returns the clock of the retention worker and the
// archive's filing time: time.Now, or the instant RetentionNowEnv fixes.
func retentionClock() (func() time.Time, error) {
	v := os.Getenv(RetentionNowEnv)
	if v == "" {
		return time.Now, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", RetentionNowEnv, err)
	}
	return func() time.Time { return t }, nil
}

// SweepResult counts what a sweep did.
type SweepResult struct {
	// Rooms are the rooms read; NotDue those left out because nothing in
	// them can have expired since they were last read.
	Rooms, NotDue, Filed, Purged, Redacted, Relogged, Media, MediaKept int
	Kept                                                               map[retention.Reason]int
	Errors                                                             []error
}

// Sweeper is the retention worker.
type Sweeper struct {
	s       *Service
	archive *archive.Bot
	now     func() time.Time
	log     logrus.FieldLogger
	// deleters by homeserver name.
	deleters map[string]homeserver.Deleter
	conns    map[string]*homeserver.Conn
	// due holds, per room swept without errors, when a message kept then
	// may next become deletable under the policy it was swept with: the
	// room is not read again before (a restart reads every room).
	due map[id.RoomID]roomDue
}

type roomDue struct {
	at     time.Time
	policy retention.Policy
}

func (s *Service) newSweeper(ab *archive.Bot, now func() time.Time) *Sweeper {
	sw := &Sweeper{s: s, archive: ab, now: now, log: s.log.WithField("component", "retention"),
		deleters: map[string]homeserver.Deleter{}, conns: map[string]*homeserver.Conn{}, due: map[id.RoomID]roomDue{}}
	for _, c := range s.Conns {
		sw.deleters[c.Endpoint.Name] = homeserver.NewDeleter(c)
		sw.conns[c.Endpoint.Name] = c
	}
	return sw
}

// startRetention runs the retention worker until ctx ends: a sweep once
// the first plan is applied and then every retention.sweep_every.
func (s *Service) startRetention(ctx context.Context, sw *Sweeper) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if !s.rooms.wait(ctx) {
			return
		}
		for {
			every := s.Config.Retention.SweepEvery
			if v := os.Getenv(RetentionEveryEnv); v != "" {
				if d, err := time.ParseDuration(v); err == nil && d > 0 {
					every = d
				}
			}
			start := time.Now()
			res := sw.Sweep(ctx)
			if ctx.Err() != nil {
				return
			}
			fields := logrus.Fields{"rooms": res.Rooms, "not_due": res.NotDue, "filed": res.Filed, "purged": res.Purged, "redacted": res.Redacted,
				"relogged": res.Relogged, "media_deleted": res.Media, "media_kept": res.MediaKept, "took": time.Since(start).Round(time.Millisecond)}
			for why, n := range res.Kept {
				fields[string(why)] = n
			}
			if len(res.Errors) > 0 {
				sw.log.WithFields(fields).WithError(errors.Join(res.Errors...)).Warn("retention sweep done with errors; the next sweep retries")
			} else {
				sw.log.WithFields(fields).Info("retention sweep done")
			}
			if !sleepCtx(ctx, every) {
				return
			}
		}
	}()
	return &wg
}

// Sweep sweeps every managed room once.
func (sw *Sweeper) Sweep(ctx context.Context) SweepResult {
	res := SweepResult{Kept: map[retention.Reason]int{}}
	now := sw.now()
	if sw.archive != nil {
		n, err := sw.archive.FilePending(ctx, func(room id.RoomID) archive.Reader {
			if b := sw.s.archiveReader(room); b != nil {
				return b
			}
			return nil // not a typed nil: FilePending skips the room
		})
		res.Filed += n
		if err != nil {
			res.Errors = append(res.Errors, fmt.Errorf("file pending marks: %w", err))
		}
	}
	holds, err := sw.s.Store.ActiveHolds(ctx)
	if err != nil {
		res.Errors = append(res.Errors, err)
		return res
	}
	want, ids := sw.s.rooms.snapshot()
	if want == nil {
		return res
	}
	keys := make([]provisioning.RoomKey, 0, len(want.Rooms))
	for k := range want.Rooms {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	for _, key := range keys {
		r := want.Rooms[key]
		rid := ids[key]
		if r.State.Retention == nil || r.State.Retention.MaxLifetime <= 0 || rid == "" || r.Space {
			continue
		}
		p := retention.Policy{Max: time.Duration(r.State.Retention.MaxLifetime) * time.Millisecond, Min: time.Duration(r.State.Retention.MinLifetime) * time.Millisecond}
		if d, ok := sw.due[rid]; ok && d.policy == p && now.Before(d.at) {
			res.NotDue++
			continue
		}
		res.Rooms++
		delete(sw.due, rid)
		due, err := sw.sweepRoom(ctx, r, rid, p, holds, now, &res)
		if err != nil {
			res.Errors = append(res.Errors, fmt.Errorf("room %s: %w", key, err))
			continue
		}
		sw.due[rid] = roomDue{at: due, policy: p}
		if ctx.Err() != nil {
			break
		}
	}
	return res
}

// sweepRoom sweeps one room and returns when it is due again (see
// Sweeper.due).
func (sw *Sweeper) sweepRoom(ctx context.Context, r *provisioning.Room, rid id.RoomID, p retention.Policy, holds []retention.Hold, now time.Time, res *SweepResult) (time.Time, error) {
	hs := string(r.Homeserver)
	del, conn := sw.deleters[hs], sw.conns[hs]
	if del == nil {
		return time.Time{}, fmt.Errorf("homeserver %s: not connected", hs)
	}
	bot := sw.s.archiveReader(rid)
	if _, archived := sw.s.rooms.archived(rid); archived && bot == nil {
		// Marks there can be read only by the archive bot: nothing is
		// deleted until it runs.
		return time.Time{}, errNoArchivist
	}
	log := sw.log.WithFields(logrus.Fields{"room": string(r.Key), "room_id": rid.String()})
	began := time.Now()
	timeline, marks, err := sw.timeline(ctx, rid, conn, bot, now, res)
	if err != nil {
		return time.Time{}, err
	}
	sw.reportUnfiled(ctx, r, rid, marks, now, log)
	logged, err := sw.s.Store.DeletedEvents(ctx, rid)
	if err != nil {
		return time.Time{}, err
	}
	plan := retention.Plan(timeline, string(r.Key), p, holds, now, del.CanPurge(), logged, conn.Client.UserID)
	for why, n := range plan.Kept {
		res.Kept[why] += n
	}
	// A message arriving after this read expires p.Max after it is sent,
	// not before the earlier of the real and the sweep's clock.
	due := plan.NextDue
	if due.IsZero() {
		due = now
		if real := time.Now(); real.Before(due) {
			due = real
		}
		due = due.Add(p.Max)
	}
	if len(plan.Purged)+len(plan.Redact)+len(plan.Unlogged) == 0 {
		return due, nil
	}
	sw.s.fault(FaultBeforeDelete)
	logOne := func(e retention.Event, method string) error {
		_, err := sw.s.Store.LogDeletion(ctx, store.Deletion{At: sw.now(), RoomKey: string(r.Key), RoomID: rid, EventID: e.ID,
			Sender: e.Sender, SentAt: e.SentAt, Policy: p.String(), Method: method})
		return err
	}
	for _, e := range plan.Unlogged {
		if err := logOne(e, store.DeletionRedact); err != nil {
			return time.Time{}, err
		}
		res.Relogged++
	}
	var gone []retention.Event
	if plan.PurgeUpTo != "" {
		// Logged first: a purged event cannot be seen any more, so a crash
		// after the purge would lose its entry. Logging again is a no-op.
		for _, e := range plan.Purged {
			if err := logOne(e, store.DeletionPurge); err != nil {
				return time.Time{}, err
			}
		}
		sw.s.fault(FaultBeforePurge)
		if err := del.PurgeHistory(ctx, rid, plan.PurgeUpTo); err != nil {
			return time.Time{}, err
		}
		res.Purged += len(plan.Purged)
		gone = append(gone, plan.Purged...)
	}
	redacted, err := sw.redact(ctx, del, rid, plan.Redact, func(e retention.Event) error {
		sw.s.fault(FaultAfterRedact)
		return logOne(e, store.DeletionRedact)
	})
	res.Redacted += len(redacted)
	gone = append(gone, redacted...)
	sw.deleteMedia(ctx, del, conn, gone, res, log)
	if len(gone) > 0 {
		log.WithFields(logrus.Fields{"purged": len(plan.Purged), "redacted": len(redacted), "policy": p.String(),
			"took_ms": time.Since(began).Milliseconds()}).Info("expired messages deleted")
	}
	return due, err
}

// reportUnfiled tells the admins of the room's tenant (in its management
// room, through the admin bot) about each mark of the room that is still
// unfiled after records.unfiled_after, once; its message is deleted from
// now on when its retention says so. Without a running admin bot the report
// waits for the next sweep.
func (sw *Sweeper) reportUnfiled(ctx context.Context, r *provisioning.Room, rid id.RoomID, marks []store.Mark, now time.Time, log logrus.FieldLogger) {
	after := sw.s.Config.Records.UnfiledAfter
	for _, m := range marks {
		if !m.Pending() || m.Keeps(now, after) || !m.ReportedAt.IsZero() {
			continue
		}
		fields := logrus.Fields{"mark_event": m.MarkEvent.String(), "target": m.Target.String(), "marked_by": m.MarkedBy.String(), "problem": m.Problem}
		text := fmt.Sprintf("📁 Eine Markierung zur Aktenablage in %s ist seit %s nicht abgelegt (%s) und hält die Nachricht nicht mehr: sie wird nach der Aufbewahrungsfrist gelöscht. "+
			"`!akte offen` zeigt offene Markierungen, `!akte verwerfen RAUM EREIGNIS` verwirft eine.\n\n"+
			"A mark for filing in %s has been unfiled since %s (%s) and no longer keeps the message: it is deleted when its retention ends. "+
			"`!records pending` lists pending marks, `!records clear ROOM EVENT` clears one.",
			"`"+string(r.Key)+"`", m.MarkedAt.UTC().Format("2006-01-02"), markProblem(m), "`"+string(r.Key)+"`", m.MarkedAt.UTC().Format("2006-01-02"), markProblem(m))
		if err := sw.s.notifyTenantAdmins(ctx, r.Tenant, text); err != nil {
			log.WithFields(fields).WithError(err).Warn("unfiled mark not reported yet; next sweep")
			continue
		}
		if _, err := sw.s.Store.MarkReported(ctx, rid, m.MarkEvent, now); err != nil {
			log.WithError(err).Warn("cannot record that an unfiled mark was reported")
			continue
		}
		log.WithFields(fields).Warn("mark for filing still unfiled after records.unfiled_after: reported to the tenant's admins; it no longer keeps the message")
	}
}

// markProblem is why a mark is not filed, for the admins.
func markProblem(m store.Mark) string {
	switch {
	case m.Problem != "":
		return m.Problem
	case m.Case == "":
		return "kein Aktenzeichen / no case reference"
	}
	return "nicht abgelegt / not filed"
}

// notifyTenantAdmins posts markdown into the management room of tenant
// ("" for the Land admin room) through the admin bot of its homeserver.
func (s *Service) notifyTenantAdmins(ctx context.Context, tenant config.TenantID, markdown string) error {
	key := provisioning.LandAdminRoom
	if tenant != "" {
		key = provisioning.RoomKey(string(tenant) + "/" + string(config.RoomVerwaltung))
	}
	rooms, err := s.Store.Rooms(ctx)
	if err != nil {
		return err
	}
	for _, mr := range rooms {
		if provisioning.RoomKey(mr.Key) != key {
			continue
		}
		s.botsMu.Lock()
		bot := s.bots[config.HomeserverName(mr.Homeserver)]
		s.botsMu.Unlock()
		if bot == nil {
			return fmt.Errorf("no admin bot runs on %s", mr.Homeserver)
		}
		_, err := bot.Reply(ctx, id.RoomID(mr.RoomID), "", markdown)
		return err
	}
	return fmt.Errorf("no management room %s", key)
}

// redact redacts events with RedactConcurrency in flight, calling after
// for each once it is redacted, and returns those redacted and logged.
func (sw *Sweeper) redact(ctx context.Context, del homeserver.Deleter, rid id.RoomID, events []retention.Event, after func(retention.Event) error) ([]retention.Event, error) {
	var (
		mu   sync.Mutex
		done []retention.Event
		errs []error
		wg   sync.WaitGroup
	)
	sem := make(chan struct{}, RedactConcurrency)
	for _, e := range events {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := del.Redact(ctx, rid, e.ID, deletionReason)
			if err == nil {
				err = after(e)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			done = append(done, e)
		}()
	}
	wg.Wait()
	return done, errors.Join(errs...)
}

// deleteMedia deletes the local media files of the deleted messages where
// the homeserver can.
func (sw *Sweeper) deleteMedia(ctx context.Context, del homeserver.Deleter, conn *homeserver.Conn, gone []retention.Event, res *SweepResult, log logrus.FieldLogger) {
	for _, e := range gone {
		for _, u := range e.Media {
			mxc, err := u.Parse()
			if err != nil || mxc.Homeserver != conn.Endpoint.ServerName {
				continue // remote media is deleted by its own homeserver
			}
			err = del.DeleteMedia(ctx, mxc)
			switch {
			case errors.Is(err, homeserver.ErrUnsupported):
				res.MediaKept++
			case err != nil:
				log.WithError(err).Warn("cannot delete media")
				res.MediaKept++
			default:
				res.Media++
			}
		}
	}
}

// timeline reads a room's timeline oldest first: through the archive bot
// bot where it is a member (decrypting, so that marks and media are seen
// and marks not filed yet are filed now), else (bot nil) through the
// service account.
func (sw *Sweeper) timeline(ctx context.Context, rid id.RoomID, conn *homeserver.Conn, bot *matrixbot.Bot, now time.Time, res *SweepResult) ([]retention.Event, []store.Mark, error) {
	var out []retention.Event
	possible := map[id.EventID]bool{}
	var marks []store.Mark
	add := func(evt *event.Event, decrypted bool) error {
		e := retention.Event{ID: evt.ID, Type: evt.Type.Type, Sender: evt.Sender, SentAt: time.UnixMilli(evt.Timestamp), State: evt.StateKey != nil}
		if rb := evt.Unsigned.RedactedBecause; rb != nil {
			e.Redacted, e.RedactedBy = true, rb.Sender
		}
		if !e.Redacted && !e.State {
			if decrypted {
				e.Media = mediaOf(evt)
				if bot != nil {
					if m, ok := archive.MarkOf(evt, bot.UserID()); ok {
						marks = append(marks, m)
					}
				}
			} else if target := relatedTo(evt); target != "" && now.Sub(e.SentAt) < undecryptableGrace && bot != nil {
				possible[target] = true
			}
		}
		out = append(out, e)
		return nil
	}
	var err error
	if bot != nil {
		err = bot.History(ctx, rid, add)
	} else {
		err = matrixbot.Timeline(ctx, conn.Client, rid, func(evt *event.Event) error {
			_ = evt.Content.ParseRaw(evt.Type)
			return add(evt, evt.Type != event.EventEncrypted)
		})
	}
	if err != nil {
		return nil, nil, err
	}
	known, err := sw.s.Store.RoomMarks(ctx, rid)
	if err != nil {
		return nil, nil, err
	}
	filed := map[id.EventID]bool{}
	for _, m := range known {
		filed[m.MarkEvent] = !m.Pending() // filed, or cleared by an admin
	}
	// Marks found in the timeline that the bot did not file while it ran,
	// oldest first: a reply mark gives the room the case of the 📁 after it.
	slices.Reverse(marks)
	tried := false
	for _, m := range marks {
		if filed[m.MarkEvent] {
			continue
		}
		tried = true
		if _, isNew, err := sw.archive.Mark(ctx, bot, m); err == nil && isNew {
			res.Filed++
		}
	}
	if tried {
		if known, err = sw.s.Store.RoomMarks(ctx, rid); err != nil {
			return nil, nil, err
		}
	}
	// A pending mark keeps its message for records.unfiled_after at most
	// (issue 14, finding 14); then the admins are told (reportUnfiled).
	for _, m := range known {
		if m.Keeps(now, sw.s.Config.Records.UnfiledAfter) {
			possible[m.Target] = true
		}
	}
	// Oldest first, as the homeserver orders them.
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	for i := range out {
		out[i].Marked = possible[out[i].ID]
	}
	return out, known, nil
}

// relatedTo returns the event an undecrypted event relates to (its
// cleartext m.relates_to: a reaction's or a reply's target).
func relatedTo(evt *event.Event) id.EventID {
	enc, ok := evt.Content.Parsed.(*event.EncryptedEventContent)
	if !ok || enc.RelatesTo == nil {
		return ""
	}
	if enc.RelatesTo.EventID != "" {
		return enc.RelatesTo.EventID
	}
	return enc.RelatesTo.GetReplyTo()
}

// mediaOf returns the media a (decrypted) message refers to.
func mediaOf(evt *event.Event) []id.ContentURIString {
	msg, ok := evt.Content.Parsed.(*event.MessageEventContent)
	if !ok {
		return nil
	}
	var out []id.ContentURIString
	add := func(u id.ContentURIString, f *event.EncryptedFileInfo) {
		if f != nil {
			u = f.URL
		}
		if u != "" {
			out = append(out, u)
		}
	}
	add(msg.URL, msg.File)
	if msg.Info != nil {
		add(msg.Info.ThumbnailURL, msg.Info.ThumbnailFile)
	}
	return out
}
