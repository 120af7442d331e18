package homeserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
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
// before the host's invite arrived over federation is refused ("leave" to
// "join" forbidden by the join rule) and can leave the user joined on the
// host but invited on their own homeserver.
//
// The invite event reaches this homeserver through the host's federation
// queue, which backs off exponentially after a failed transaction (Dendrite:
// 2^n seconds, Synapse likewise); a backoff that began while this homeserver
// or its federation gate was down or overloaded holds the invite back for
// minutes (docs/homeservers.md). Both kinds of host retry a destination at
// once when that destination calls them, so while it waits WaitForInvite
// has this homeserver ask the host for the profile of hostUser now and then.
type InviteWaiter interface {
	// WaitForInvite returns when user is invited or joined as witness sees
	// it, or with the error of ctx or of reading the room. hostUser is a
	// user of the room's host (its service account).
	WaitForInvite(ctx context.Context, roomID id.RoomID, user, witness, hostUser id.UserID) error
}

// Dendrite wakes its queue to a server that calls it at most once a minute
// per server, so a nudge repeats: the first soon after the wait begins, then
// every nudgeEvery until the invite is seen.
const (
	firstNudge = time.Second
	nudgeEvery = 15 * time.Second
)

var _ InviteWaiter = (*dendriteAdmin)(nil)

// WaitForInvite polls the user's membership as the witness, through the
// appservice, and nudges the host (see InviteWaiter).
func (a *dendriteAdmin) WaitForInvite(ctx context.Context, roomID id.RoomID, user, witness, hostUser id.UserID) error {
	if err := a.checkLocal(user); err != nil {
		return err
	}
	if err := a.checkLocal(witness); err != nil {
		return err
	}
	cli := a.as(witness)
	nudge := time.Now().Add(firstNudge)
	for wait := 20 * time.Millisecond; ; wait = min(2*wait, 500*time.Millisecond) {
		var m event.MemberEventContent
		err := cli.StateEvent(ctx, roomID, event.StateMember, user.String(), &m)
		switch {
		case err == nil && (m.Membership == event.MembershipInvite || m.Membership == event.MembershipJoin):
			return nil
		case err != nil && !errors.Is(err, mautrix.MNotFound) && !errors.Is(err, mautrix.MForbidden):
			// 403: the witness is not (yet) in the room as its server
			// sees it (its own join still on the way); keep asking.
			return fmt.Errorf("membership of %s in %s as %s: %w", user, roomID, witness, err)
		}
		if hostUser != "" && !time.Now().Before(nudge) {
			// The answer does not matter (even a 404 is a federation
			// request the host authenticated); only the call does.
			_, _ = cli.GetProfile(ctx, hostUser)
			nudge = time.Now().Add(nudgeEvery)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the invite of %s to %s: %w", user, roomID, ctx.Err())
		case <-time.After(wait):
		}
	}
}

// JoinRemote joins user through the appservice, acting as the user.
// Dendrite v0.13.8 reads the servers to join through from `server_name`
// only (the `via` of spec v1.12 is ignored), so both are sent.
func (a *dendriteAdmin) JoinRemote(ctx context.Context, roomID id.RoomID, user id.UserID, via []string) error {
	if err := a.checkLocal(user); err != nil {
		return err
	}
	cli := a.as(user)
	u := cli.BuildURLWithFullQuery(mautrix.ClientURLPath{"v3", "join", roomID}, func(q url.Values) {
		q["via"], q["server_name"] = via, via
	})
	var resp mautrix.RespJoinRoom
	if _, err := cli.MakeRequest(ctx, http.MethodPost, u, struct{}{}, &resp); err != nil {
		return fmt.Errorf("join %s to %s: %w", user, roomID, err)
	}
	// Under load Dendrite v0.13.8 can fail a join inside ("cannot set latest
	// events with no latest event references") and still answer 200 with a
	// broken body; only the user's own view of the room says.
	var m event.MemberEventContent
	if err := cli.StateEvent(ctx, roomID, event.StateMember, user.String(), &m); err != nil || m.Membership != event.MembershipJoin {
		return fmt.Errorf("join %s to %s: the homeserver answered the join but %s is not in the room (%v): %w", user, roomID, user, err, ErrJoinNotDone)
	}
	return nil
}

// ErrJoinNotDone is a join the homeserver answered without doing it; the
// caller tries again.
var ErrJoinNotDone = errors.New("join not done")

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
