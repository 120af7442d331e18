package homeserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"
)

// Deleter deletes messages and media with the service account's rights, for
// retention. Errors name the room, event or media.
type Deleter interface {
	// Redact redacts event in room with reason. Redacting it again (a
	// retry after a crash) does no harm.
	Redact(ctx context.Context, room id.RoomID, event id.EventID, reason string) error
	// CanPurge reports whether PurgeHistory works here (Synapse).
	CanPurge() bool
	// PurgeHistory deletes every event of room before upTo from the
	// homeserver's database (events of local users too; the room's current
	// state stays) and waits until the purge is done. Where purging is not
	// possible the error wraps ErrUnsupported.
	PurgeHistory(ctx context.Context, room id.RoomID, upTo id.EventID) error
	// DeleteMedia deletes a local media file. On a homeserver that cannot,
	// the error wraps ErrUnsupported.
	DeleteMedia(ctx context.Context, mxc id.ContentURI) error
}

// NewDeleter returns the Deleter of conn's implementation.
func NewDeleter(conn *Conn) Deleter {
	return &deleter{conn: conn}
}

type deleter struct{ conn *Conn }

// purgePoll is how often PurgeHistory asks whether a purge is done.
const purgePoll = 200 * time.Millisecond

func (d *deleter) Redact(ctx context.Context, room id.RoomID, event id.EventID, reason string) error {
	// A fixed transaction ID per event makes a retried redaction of the
	// same session the same request.
	_, err := d.conn.Client.RedactEvent(ctx, room, event, mautrix.ReqRedact{Reason: reason, TxnID: "lm-retention-" + string(event)})
	if err != nil {
		return fmt.Errorf("redact %s in %s: %w", event, room, err)
	}
	return nil
}

func (d *deleter) CanPurge() bool { return d.conn.Implementation == Synapse }

func (d *deleter) adminURL(path ...any) string {
	return d.conn.Client.BuildURL(mautrix.SynapseAdminURLPath(path))
}

func (d *deleter) PurgeHistory(ctx context.Context, room id.RoomID, upTo id.EventID) error {
	if !d.CanPurge() {
		return fmt.Errorf("purge history of %s: %w", room, ErrUnsupported)
	}
	req := struct {
		DeleteLocal bool       `json:"delete_local_events"`
		UpTo        id.EventID `json:"purge_up_to_event_id"`
	}{true, upTo}
	var resp struct {
		PurgeID string `json:"purge_id"`
	}
	if _, err := d.conn.Client.MakeRequest(ctx, http.MethodPost, d.adminURL("v1", "purge_history", room), &req, &resp); err != nil {
		return fmt.Errorf("purge history of %s before %s: %w", room, upTo, err)
	}
	for {
		var st struct {
			Status string `json:"status"`
			Error  string `json:"error"`
		}
		if _, err := d.conn.Client.MakeRequest(ctx, http.MethodGet, d.adminURL("v1", "purge_history_status", resp.PurgeID), nil, &st); err != nil {
			return fmt.Errorf("purge history of %s: status: %w", room, err)
		}
		switch st.Status {
		case "complete":
			return nil
		case "failed":
			return fmt.Errorf("purge history of %s before %s failed: %s", room, upTo, st.Error)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("purge history of %s: %w", room, ctx.Err())
		case <-time.After(purgePoll):
		}
	}
}

func (d *deleter) DeleteMedia(ctx context.Context, mxc id.ContentURI) error {
	if d.conn.Implementation != Synapse {
		return fmt.Errorf("delete media %s: %w", mxc, ErrUnsupported)
	}
	_, err := d.conn.Client.MakeRequest(ctx, http.MethodDelete, d.adminURL("v1", "media", mxc.Homeserver, mxc.FileID), nil, nil)
	if errors.Is(err, mautrix.MNotFound) {
		return nil // gone already
	}
	if err != nil {
		return fmt.Errorf("delete media %s: %w", mxc, err)
	}
	return nil
}
