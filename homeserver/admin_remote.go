package homeserver

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"
)

// RemoteJoiner is the capability of joining a local user to a room hosted on
// another homeserver. The room's host must have invited the user; via names
// servers in the room.
type RemoteJoiner interface {
	JoinRemote(ctx context.Context, roomID id.RoomID, user id.UserID, via []string) error
}

var (
	_ RemoteJoiner = (*synapseAdmin)(nil)
	_ RemoteJoiner = (*dendriteAdmin)(nil)
)

// JoinRemote joins user through the appservice, acting as the user.
func (a *dendriteAdmin) JoinRemote(ctx context.Context, roomID id.RoomID, user id.UserID, via []string) error {
	if err := a.checkLocal(user); err != nil {
		return err
	}
	if _, err := a.as(user).JoinRoom(ctx, roomID.String(), &mautrix.ReqJoinRoom{Via: via}); err != nil {
		return fmt.Errorf("join %s to %s: %w", user, roomID, err)
	}
	return nil
}

// JoinRemote joins user with a short-lived login made through the admin API
// (Synapse's admin join API only joins rooms the server is in).
func (a *synapseAdmin) JoinRemote(ctx context.Context, roomID id.RoomID, user id.UserID, via []string) error {
	if err := a.checkLocal(user); err != nil {
		return err
	}
	req := struct {
		ValidUntilMS int64 `json:"valid_until_ms"`
	}{time.Now().Add(2 * time.Minute).UnixMilli()}
	var resp struct {
		AccessToken string `json:"access_token"`
	}
	if err := sendSensitive(ctx, a.conn.Client, http.MethodPost, a.adminURL("v1", "users", user, "login"), &req, &resp); err != nil {
		return fmt.Errorf("log in as %s to join %s: %w", user, roomID, err)
	}
	cli := &mautrix.Client{
		HomeserverURL: a.conn.Client.HomeserverURL, UserAgent: a.conn.Client.UserAgent,
		Client: a.conn.Client.Client, Log: a.conn.Client.Log, UserID: user, AccessToken: resp.AccessToken,
	}
	_, err := cli.JoinRoom(ctx, roomID.String(), &mautrix.ReqJoinRoom{Via: via})
	// The login was only for this join.
	_, _ = cli.Logout(ctx)
	if err != nil {
		return fmt.Errorf("join %s to %s: %w", user, roomID, err)
	}
	return nil
}
