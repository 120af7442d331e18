package homeserver

import (
	"context"
	"errors"
	"fmt"
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

// JoinRemote joins user as the user (AsUser): Synapse's admin join API only
// joins rooms the server is in.
func (a *synapseAdmin) JoinRemote(ctx context.Context, roomID id.RoomID, user id.UserID, via []string) error {
	err := a.AsUser(ctx, user, func(cli *mautrix.Client) error {
		_, err := cli.JoinRoom(ctx, roomID.String(), &mautrix.ReqJoinRoom{Via: via})
		return err
	})
	if err != nil {
		return fmt.Errorf("join %s to %s: %w", user, roomID, err)
	}
	return nil
}
