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

// UserActor is the capability of acting as a local user, for what only the
// user may do: lower their own power in a room where it equals the service
// account's, then leave it. Dendrite acts through the appservice
// (`?user_id=` masquerading); Synapse logs in as the user through the admin
// API, for at most asUserValidity, and logs that session out afterwards.
type UserActor interface {
	// AsUser calls fn with a client acting as user, a local account that
	// exists and is not deactivated, and returns fn's error. The client
	// is valid only during fn and is not meant for syncing.
	AsUser(ctx context.Context, user id.UserID, fn func(cli *mautrix.Client) error) error
}

var (
	_ UserActor = (*synapseAdmin)(nil)
	_ UserActor = (*dendriteAdmin)(nil)
)

// asUserValidity bounds a Synapse login made to act as a user.
const asUserValidity = 2 * time.Minute

// AsUser acts through the appservice.
func (a *dendriteAdmin) AsUser(ctx context.Context, user id.UserID, fn func(cli *mautrix.Client) error) error {
	if err := a.checkLocal(user); err != nil {
		return err
	}
	return fn(a.as(user))
}

// AsUser logs in as the user through `POST /_synapse/admin/v1/users/<user>/login`
// (no device is made) and logs that login out when fn returns.
func (a *synapseAdmin) AsUser(ctx context.Context, user id.UserID, fn func(cli *mautrix.Client) error) error {
	if err := a.checkLocal(user); err != nil {
		return err
	}
	req := struct {
		ValidUntilMS int64 `json:"valid_until_ms"`
	}{time.Now().Add(asUserValidity).UnixMilli()}
	var resp struct {
		AccessToken string `json:"access_token"`
	}
	if err := sendSensitive(ctx, a.conn.Client, http.MethodPost, a.adminURL("v1", "users", user, "login"), &req, &resp); err != nil {
		if errors.Is(err, mautrix.MNotFound) {
			err = fmt.Errorf("%w: %w", ErrUnknownUser, err)
		}
		return fmt.Errorf("log in as %s: %w", user, err)
	}
	cli := &mautrix.Client{
		HomeserverURL: a.conn.Client.HomeserverURL, UserAgent: a.conn.Client.UserAgent,
		Client: a.conn.Client.Client, Log: a.conn.Client.Log, UserID: user, AccessToken: resp.AccessToken,
	}
	defer func() {
		// The login was only for fn; a context that ended must not keep
		// it alive until it expires.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_, _ = cli.Logout(lctx)
	}()
	return fn(cli)
}
