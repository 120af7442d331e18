package homeserver

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// Admin manages accounts and memberships of local users on one homeserver, with the service account's rights.
// Methods are safe for concurrent use by several goroutines on different users; two concurrent calls for the
// same user may both act (CreateAccount then reports created=true once or twice, never a second account).
// Errors name the user or room and never contain a password or token.
type Admin interface {
	// CreateAccount creates the local account localpart with password and display name. If the account
	// exists already it changes nothing and returns created=false (idempotent; a crash after creation must not duplicate).
	CreateAccount(ctx context.Context, localpart, password, displayName string) (userID id.UserID, created bool, err error)
	// SetDisplayName sets the global display name of a local user.
	SetDisplayName(ctx context.Context, user id.UserID, name string) error
	// Join makes a local user a joined member of roomID (the service account is joined there with power to invite);
	// it invites first if needed. Joining a room the user is already in is no error. It refuses unknown users
	// (ErrUnknownUser) and deactivated ones (ErrDeactivated; on Dendrite only those deactivated through Admin are known),
	// which both homeservers would otherwise let rejoin.
	Join(ctx context.Context, roomID id.RoomID, user id.UserID) error
	// ResetPassword sets a local user's password; with logoutDevices every session of the user ends
	// (their access tokens are revoked). An unknown user is an error wrapping ErrUnknownUser.
	ResetPassword(ctx context.Context, user id.UserID, password string, logoutDevices bool) error
	// Deactivate locks a local user out for good: no login, existing access tokens revoked. Idempotent.
	Deactivate(ctx context.Context, user id.UserID) error
	// AccountState reports whether a local user exists and whether it is deactivated (exists=false for unknown users).
	// Where the homeserver cannot tell whether an existing account is deactivated, the error wraps
	// ErrUnsupported and deactivated is false: the caller decides from its own record.
	AccountState(ctx context.Context, user id.UserID) (exists, deactivated bool, err error)
}

// AdminOptions are the secrets an Admin needs besides the service account's
// session. Synapse needs none of them.
type AdminOptions struct {
	RegistrationSharedSecret string // Dendrite: shared-secret registration
	AppserviceToken          string // Dendrite: as_token of our appservice for acting as users (`?user_id=` masquerading)
}

// ErrUnsupported is wrapped by errors about what a homeserver cannot do, such
// as telling a deactivated account on Dendrite v0.13.8. It matches
// errors.ErrUnsupported too.
var ErrUnsupported = fmt.Errorf("not supported by this homeserver: %w", errors.ErrUnsupported)

// ErrUnknownUser is wrapped by errors about a local user that does not exist.
var ErrUnknownUser = errors.New("no such user")

// ErrDeactivated is wrapped by errors about a deactivated user asked to join.
var ErrDeactivated = errors.New("account is deactivated")

// NewAdmin returns the Admin of conn's implementation (Synapse admin API, or Dendrite's mechanisms).
// The service account of conn must be a server admin. Dendrite needs both
// options; for an unknown implementation the error wraps ErrUnsupported.
func NewAdmin(conn *Conn, opts AdminOptions) (Admin, error) {
	if conn == nil || conn.Client == nil {
		return nil, errors.New("admin: no connection")
	}
	_, server, err := conn.Client.UserID.Parse()
	if err != nil {
		return nil, fmt.Errorf("homeserver %s: service account %q: %w", conn.Endpoint.Name, conn.Client.UserID, err)
	}
	base := adminBase{conn: conn, serverName: server}
	switch conn.Implementation {
	case Synapse:
		return &synapseAdmin{adminBase: base}, nil
	case Dendrite:
		if opts.RegistrationSharedSecret == "" || opts.AppserviceToken == "" {
			return nil, fmt.Errorf("homeserver %s: Dendrite needs the registration shared secret and the appservice token", conn.Endpoint.Name)
		}
		return &dendriteAdmin{adminBase: base, sharedSecret: opts.RegistrationSharedSecret, asToken: opts.AppserviceToken}, nil
	}
	return nil, fmt.Errorf("homeserver %s: account administration on %s: %w", conn.Endpoint.Name, conn.Implementation, ErrUnsupported)
}

// adminBase is what both implementations of Admin share: the service
// account's connection and the server name of local users.
type adminBase struct {
	conn       *Conn
	serverName string
}

// localUser returns the ID of the local account localpart, which must be a
// valid lowercase localpart (what both homeservers register).
func (a *adminBase) localUser(localpart string) (id.UserID, error) {
	if err := id.ValidateUserLocalpart(localpart); err != nil {
		return "", fmt.Errorf("localpart %q: %w", localpart, err)
	}
	return id.NewUserID(localpart, a.serverName), nil
}

// checkLocal refuses user IDs of other servers.
func (a *adminBase) checkLocal(user id.UserID) error {
	_, server, err := user.Parse()
	if err != nil {
		return fmt.Errorf("user %q: %w", user, err)
	}
	if server != a.serverName {
		return fmt.Errorf("user %s is not local to %s", user, a.serverName)
	}
	return nil
}

// membership returns user's membership in roomID as the service account sees
// it, or "" if the user never had one.
func (a *adminBase) membership(ctx context.Context, roomID id.RoomID, user id.UserID) (event.Membership, error) {
	var content event.MemberEventContent
	err := a.conn.Client.StateEvent(ctx, roomID, event.StateMember, user.String(), &content)
	if errors.Is(err, mautrix.MNotFound) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("membership of %s in %s: %w", user, roomID, err)
	}
	return content.Membership, nil
}

// refuseInactive returns an error wrapping ErrUnknownUser or ErrDeactivated
// if user must not join a room. An account whose deactivation adm cannot tell
// (ErrUnsupported) may join.
func refuseInactive(ctx context.Context, adm Admin, roomID id.RoomID, user id.UserID) error {
	exists, deactivated, err := adm.AccountState(ctx, user)
	switch {
	case err != nil && !errors.Is(err, ErrUnsupported):
		return fmt.Errorf("join %s to %s: %w", user, roomID, err)
	case !exists:
		return fmt.Errorf("join %s to %s: %w", user, roomID, ErrUnknownUser)
	case deactivated:
		return fmt.Errorf("join %s to %s: %w", user, roomID, ErrDeactivated)
	}
	return nil
}

// joinedAfter decides a failed join: it is no error if the user is joined
// anyway (a concurrent join, or a server that refuses to repeat one).
func (a *adminBase) joinedAfter(ctx context.Context, roomID id.RoomID, user id.UserID, err error) error {
	if m, merr := a.membership(ctx, roomID, user); merr == nil && m == event.MembershipJoin {
		return nil
	}
	return err
}

// sendSensitive makes a JSON request whose body holds a secret, so that
// mautrix's request log omits the body.
func sendSensitive(ctx context.Context, cli *mautrix.Client, method, url string, req, resp any) error {
	_, err := cli.MakeFullRequest(ctx, mautrix.FullRequest{
		Method:           method,
		URL:              url,
		RequestJSON:      req,
		ResponseJSON:     resp,
		SensitiveContent: true,
	})
	return err
}

// RandomPassword returns a password nobody knows (32 random bytes), for
// locking an account or for an account only a program logs in to.
func RandomPassword() (string, error) {
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(buf), nil
}
