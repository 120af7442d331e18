package matrixbot

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

func (b *Bot) onMessage(ctx context.Context, evt *event.Event) {
	msg := evt.Content.AsMessage()
	if b.cfg.OnMessage == nil || msg.MsgType != event.MsgText || msg.RelatesTo.GetReplaceID() != "" {
		return
	}
	arrived := time.Now()
	if !b.admit(ctx, evt) {
		return
	}
	b.log.WithFields(logrus.Fields{"event_id": evt.ID.String(), "since_sent": arrived.Sub(time.UnixMilli(evt.Timestamp)).Round(time.Millisecond),
		"admit": time.Since(arrived).Round(time.Microsecond)}).Trace("message arrived")
	msg.RemoveReplyFallback()
	m := &Message{
		Room:      evt.RoomID,
		Event:     evt.ID,
		Sender:    evt.Sender,
		Device:    senderDevice(evt),
		Body:      msg.Body,
		InReplyTo: msg.RelatesTo.GetNonFallbackReplyTo(),
		Encrypted: evt.Mautrix.EventSource&event.SourceDecrypted != 0,
		Trust:     evt.Mautrix.TrustState,
		Time:      time.UnixMilli(evt.Timestamp),
	}
	if msg.Format == event.FormatHTML {
		m.FormattedBody = msg.FormattedBody
	}
	b.queue.push(evt.RoomID, func(ctx context.Context) { b.cfg.OnMessage(ctx, b, m) })
}

func (b *Bot) onReaction(ctx context.Context, evt *event.Event) {
	rel := evt.Content.AsReaction().RelatesTo
	if b.cfg.OnReaction == nil || rel.Type != event.RelAnnotation || rel.EventID == "" {
		return
	}
	if !b.admit(ctx, evt) {
		return
	}
	r := &Reaction{
		Room:      evt.RoomID,
		Event:     evt.ID,
		Sender:    evt.Sender,
		Device:    senderDevice(evt),
		RelatesTo: rel.EventID,
		Key:       rel.Key,
		Encrypted: evt.Mautrix.EventSource&event.SourceDecrypted != 0,
		Trust:     evt.Mautrix.TrustState,
		Time:      time.UnixMilli(evt.Timestamp),
	}
	b.queue.push(evt.RoomID, func(ctx context.Context) { b.cfg.OnReaction(ctx, b, r) })
}

func senderDevice(evt *event.Event) id.DeviceID {
	if evt.Mautrix.TrustSource != nil {
		return evt.Mautrix.TrustSource.DeviceID
	}
	return ""
}

// admit reports whether evt is to be dispatched, recording it as handled if
// so.
func (b *Bot) admit(ctx context.Context, evt *event.Event) bool {
	log := b.log.WithFields(logrus.Fields{
		"room_id": evt.RoomID.String(), "event_id": evt.ID.String(), "sender": evt.Sender.String(),
	})
	if reason := b.skipReason(evt); reason != "" {
		log.WithField("reason", reason).Debug("not dispatching event")
		return false
	}
	first, err := b.cfg.State.FirstHandling(ctx, b.cfg.UserID, evt.ID)
	if err != nil {
		log.WithError(err).Error("cannot record event as handled; not dispatching it")
		return false
	}
	if !first {
		log.Debug("event was handled before")
		return false
	}
	return true
}

// skipReason says why evt is not for the handlers, or "" if it is.
func (b *Bot) skipReason(evt *event.Event) string {
	switch {
	case b.stopping.Load():
		return "bot is stopping"
	case evt.Sender == b.cfg.UserID:
		return "own event"
	case evt.RoomID == "" || !b.cfg.Rooms(evt.RoomID):
		return "not a room of the bot"
	case time.UnixMilli(evt.Timestamp).Before(b.cutoff):
		return "older than the bot's start"
	}
	return ""
}

// roomQueue runs handlers off the sync loop, one room's handlers one after
// another in the order their events came, different rooms' in parallel.
type roomQueue struct {
	ctx    context.Context
	log    logrus.FieldLogger
	mu     sync.Mutex
	queues map[id.RoomID][]func(context.Context) // a room is present while its worker runs
	closed bool
	wg     sync.WaitGroup
}

func newRoomQueue(ctx context.Context, log logrus.FieldLogger) *roomQueue {
	return &roomQueue{ctx: ctx, log: log, queues: make(map[id.RoomID][]func(context.Context))}
}

// push queues f for room; after close it drops f.
func (q *roomQueue) push(room id.RoomID, f func(context.Context)) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		q.log.WithField("room_id", room.String()).Warn("bot is stopping; dropping event")
		return
	}
	pending, running := q.queues[room]
	q.queues[room] = append(pending, f)
	if !running {
		q.wg.Add(1)
		go q.work(room)
	}
}

func (q *roomQueue) work(room id.RoomID) {
	defer q.wg.Done()
	for {
		q.mu.Lock()
		pending := q.queues[room]
		if len(pending) == 0 {
			delete(q.queues, room)
			q.mu.Unlock()
			return
		}
		f := pending[0]
		q.queues[room] = pending[1:]
		q.mu.Unlock()
		q.run(room, f)
	}
}

// run calls f, turning a panic into a log entry.
func (q *roomQueue) run(room id.RoomID, f func(context.Context)) {
	defer func() {
		if r := recover(); r != nil {
			q.log.WithFields(logrus.Fields{"room_id": room.String(), "panic": fmt.Sprint(r), "stack": string(debug.Stack())}).
				Error("handler panicked")
		}
	}()
	f(q.ctx)
}

// close refuses further handlers and waits up to timeout for the queued
// ones to finish.
func (q *roomQueue) close(timeout time.Duration) error {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	done := make(chan struct{})
	go func() {
		q.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-time.After(timeout):
		return errors.New("handlers still running after " + timeout.String())
	}
}
