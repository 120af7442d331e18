package matrixbot_test

import (
	"context"
	"os"

	"github.com/sirupsen/logrus"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/bots/matrixbot"
	"github.com/landesmessenger/landesmessenger/logging"
	"github.com/landesmessenger/landesmessenger/store"
)

// A bot that answers "ping" in its management room, marking the command
// with ⏳ while it works.
func Example() {
	ctx := context.Background()
	log := logrus.New()
	st, err := store.Open(ctx, "sqlite:/var/lib/landesmessenger/landesmessenger.db", logging.Zerolog(log))
	if err != nil {
		log.WithError(err).Error("open store")
		return
	}
	defer st.Close()
	var state matrixbot.State // implemented by the service on its store
	// The secret of the service's pickle key file, kept outside the
	// database (a new one here).
	pickleSecret, err := matrixbot.NewPickleSecret()
	if err != nil {
		log.WithError(err).Error("pickle secret")
		return
	}

	bot, err := matrixbot.Start(ctx, matrixbot.Config{
		HomeserverURL: "https://matrix.land.example",
		UserID:        "@verwaltung:land.example",
		Password:      os.Getenv("VERWALTUNG_PASSWORD"),
		DB:            st.DB(),
		PickleKey:     matrixbot.PickleKeyFor(pickleSecret, "@verwaltung:land.example"),
		State:         state,
		Log:           log,
		Rooms:         func(room id.RoomID) bool { return room == "!verwaltung:land.example" },
		OnMessage: func(ctx context.Context, b *matrixbot.Bot, m *matrixbot.Message) {
			if m.Body != "ping" {
				return
			}
			wait, err := b.React(ctx, m.Room, m.Event, "⏳")
			if err == nil {
				_, err = b.Reply(ctx, m.Room, m.Event, "**pong**")
				_ = b.Redact(ctx, m.Room, wait)
			}
			if err != nil {
				log.WithError(err).WithField("event_id", m.Event.String()).Warn("cannot answer")
			}
		},
	})
	if err != nil {
		log.WithError(err).Error("start bot")
		return
	}
	defer bot.Stop()
}
