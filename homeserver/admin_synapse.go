package homeserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// synapseAdmin administers accounts through Synapse's admin API
// (docs/admin_api/user_admin_api.md and room_membership.md in the Synapse
// repository), as the service account, which is a server admin.
type synapseAdmin struct {
	adminBase
}

var _ Admin = (*synapseAdmin)(nil)

// Eraser is the capability of deactivating an account with GDPR erasure:
// its messages are no longer shown to users who join their rooms later.
// Synapse has it; Dendrite v0.13.8 cannot erase.
type Eraser interface {
	// DeactivateErase is Admin.Deactivate with erasure. Idempotent.
	DeactivateErase(ctx context.Context, user id.UserID) error
}

var _ Eraser = (*synapseAdmin)(nil)

// synapseUser is the part of `GET /_synapse/admin/v2/users/<user_id>` we use.
type synapseUser struct {
	Deactivated bool `json:"deactivated"`
}

func (a *synapseAdmin) adminURL(path ...any) string {
	return a.conn.Client.BuildURL(mautrix.SynapseAdminURLPath(path))
}

// user returns the account user, or nil if there is none.
func (a *synapseAdmin) user(ctx context.Context, user id.UserID) (*synapseUser, error) {
	var u synapseUser
	_, err := a.conn.Client.MakeRequest(ctx, http.MethodGet, a.adminURL("v2", "users", user), nil, &u)
	if errors.Is(err, mautrix.MNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("query account %s: %w", user, err)
	}
	return &u, nil
}

// CreateAccount looks the account up first, because `PUT v2/users` on an
// existing account would change its password.
func (a *synapseAdmin) CreateAccount(ctx context.Context, localpart, password, displayName string) (id.UserID, bool, error) {
	user, err := a.localUser(localpart)
	if err != nil {
		return "", false, err
	}
	if u, err := a.user(ctx, user); err != nil {
		return user, false, err
	} else if u != nil {
		return user, false, nil
	}
	req := struct {
		Password    string `json:"password"`
		DisplayName string `json:"displayname,omitempty"`
	}{password, displayName}
	if err := sendSensitive(ctx, a.conn.Client, http.MethodPut, a.adminURL("v2", "users", user), &req, nil); err != nil {
		return user, false, fmt.Errorf("create account %s: %w", user, err)
	}
	return user, true, nil
}

// SetDisplayName checks that the account exists, since `PUT v2/users` would
// create it.
func (a *synapseAdmin) SetDisplayName(ctx context.Context, user id.UserID, name string) error {
	if err := a.checkLocal(user); err != nil {
		return err
	}
	if u, err := a.user(ctx, user); err != nil {
		return err
	} else if u == nil {
		return fmt.Errorf("set display name of %s: %w", user, ErrUnknownUser)
	}
	req := struct {
		DisplayName string `json:"displayname"`
	}{name}
	if _, err := a.conn.Client.MakeRequest(ctx, http.MethodPut, a.adminURL("v2", "users", user), &req, nil); err != nil {
		return fmt.Errorf("set display name of %s: %w", user, err)
	}
	return nil
}

// Join uses the admin join API, which invites the user first in rooms that
// are not public. It refuses to invite a joined member, hence the membership
// check, and it would join a deactivated account, hence refuseInactive.
func (a *synapseAdmin) Join(ctx context.Context, roomID id.RoomID, user id.UserID) error {
	if err := a.checkLocal(user); err != nil {
		return err
	}
	if m, err := a.membership(ctx, roomID, user); err != nil {
		return err
	} else if m == event.MembershipJoin {
		return nil
	}
	if err := refuseInactive(ctx, a, roomID, user); err != nil {
		return err
	}
	req := struct {
		UserID id.UserID `json:"user_id"`
	}{user}
	if _, err := a.conn.Client.MakeRequest(ctx, http.MethodPost, a.adminURL("v1", "join", roomID), &req, nil); err != nil {
		return a.joinedAfter(ctx, roomID, user, fmt.Errorf("join %s to %s: %w", user, roomID, err))
	}
	return nil
}

// Deactivate uses the admin deactivation API without erasing: the user's
// messages stay visible. Synapse deletes the user's devices and tokens.
func (a *synapseAdmin) Deactivate(ctx context.Context, user id.UserID) error {
	return a.deactivate(ctx, user, false)
}

// DeactivateErase uses the admin deactivation API with erase.
func (a *synapseAdmin) DeactivateErase(ctx context.Context, user id.UserID) error {
	return a.deactivate(ctx, user, true)
}

func (a *synapseAdmin) deactivate(ctx context.Context, user id.UserID, erase bool) error {
	if err := a.checkLocal(user); err != nil {
		return err
	}
	req := struct {
		Erase bool `json:"erase"`
	}{erase}
	_, err := a.conn.Client.MakeRequest(ctx, http.MethodPost, a.adminURL("v1", "deactivate", user), &req, nil)
	if errors.Is(err, mautrix.MNotFound) {
		return fmt.Errorf("deactivate %s: %w", user, ErrUnknownUser)
	} else if err != nil {
		return fmt.Errorf("deactivate %s: %w", user, err)
	}
	return nil
}

// ResetPassword uses the admin API's reset_password.
func (a *synapseAdmin) ResetPassword(ctx context.Context, user id.UserID, password string, logoutDevices bool) error {
	if err := a.checkLocal(user); err != nil {
		return err
	}
	req := struct {
		NewPassword   string `json:"new_password"`
		LogoutDevices bool   `json:"logout_devices"`
	}{password, logoutDevices}
	err := sendSensitive(ctx, a.conn.Client, http.MethodPost, a.adminURL("v1", "reset_password", user), &req, nil)
	if errors.Is(err, mautrix.MNotFound) {
		return fmt.Errorf("reset the password of %s: %w", user, ErrUnknownUser)
	} else if err != nil {
		return fmt.Errorf("reset the password of %s: %w", user, err)
	}
	return nil
}

// AccountState reads the account's `deactivated` flag.
func (a *synapseAdmin) AccountState(ctx context.Context, user id.UserID) (exists, deactivated bool, err error) {
	if err := a.checkLocal(user); err != nil {
		return false, false, err
	}
	u, err := a.user(ctx, user)
	if err != nil || u == nil {
		return false, false, err
	}
	return true, u.Deactivated, nil
}
