package homeserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
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

// InviteWaiter is the capability of waiting until the homeserver's own copy
// of a room hosted elsewhere shows the invite of a local user, as read by
// witness, a local user joined to that room. Dendrite v0.13.8 needs it: once
// it is in a room it joins further local users locally, and a join made
// before the host's invite arrived over federation is rejected and can
// leave the user joined on the host but invited on their own homeserver.
type InviteWaiter interface {
	// WaitForInvite returns when user is invited or joined as witness sees
	// it, or with the error of ctx or of reading the room.
	WaitForInvite(ctx context.Context, roomID id.RoomID, user, witness id.UserID) error
}

var _ InviteWaiter = (*dendriteAdmin)(nil)

// WaitForInvite polls the user's membership as the witness, through the
// appservice.
func (a *dendriteAdmin) WaitForInvite(ctx context.Context, roomID id.RoomID, user, witness id.UserID) error {
	if err := a.checkLocal(user); err != nil {
		return err
	}
	if err := a.checkLocal(witness); err != nil {
		return err
	}
	cli := a.as(witness)
	for wait := 20 * time.Millisecond; ; wait = min(2*wait, 500*time.Millisecond) {
		var m event.MemberEventContent
		err := cli.StateEvent(ctx, roomID, event.StateMember, user.String(), &m)
		switch {
		case err == nil && (m.Membership == event.MembershipInvite || m.Membership == event.MembershipJoin):
			return nil
		case err != nil && !errors.Is(err, mautrix.MNotFound):
			return fmt.Errorf("membership of %s in %s as %s: %w", user, roomID, witness, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the invite of %s to %s: %w", user, roomID, ctx.Err())
		case <-time.After(wait):
		}
	}
}

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
