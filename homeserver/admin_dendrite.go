package homeserver

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
	"maunium.net/go/mautrix/synapseadmin"
)

// dendriteAdmin administers accounts on Dendrite v0.13.8, which has no user
// admin API: it registers through shared-secret registration, acts as users
// through our appservice (`?user_id=` masquerading, with a user namespace
// covering every local user, not exclusive), and deactivates by resetting the
// password, logging in as the user and deactivating through the client API.
type dendriteAdmin struct {
	adminBase
	sharedSecret string
	asToken      string
}

var _ Admin = (*dendriteAdmin)(nil)

// DeactivationMarkerType is the global account data type in which a
// Dendrite account deactivated by Admin.Deactivate records that fact, since
// Dendrite v0.13.8 exposes no deactivation flag. Its content carries an HMAC
// of the user ID keyed with the appservice token, so the user cannot forge it.
const DeactivationMarkerType = "de.landesmessenger.deactivated"

// deactivationMarker is the content of DeactivationMarkerType.
type deactivationMarker struct {
	MAC string `json:"mac"`
}

// marker returns the marker of user's deactivation.
func (a *dendriteAdmin) marker(user id.UserID) deactivationMarker {
	mac := hmac.New(sha256.New, []byte(a.asToken))
	mac.Write([]byte("deactivated " + user.String()))
	return deactivationMarker{MAC: base64.RawStdEncoding.EncodeToString(mac.Sum(nil))}
}

// as returns a client that acts as the local user through the appservice.
func (a *dendriteAdmin) as(user id.UserID) *mautrix.Client {
	return a.client(user, a.asToken, true)
}

// client returns a client of its own on the service account's homeserver,
// sharing its HTTP client and logger; it is not meant for syncing.
func (a *dendriteAdmin) client(user id.UserID, token string, masquerade bool) *mautrix.Client {
	return &mautrix.Client{
		HomeserverURL:       a.conn.Client.HomeserverURL,
		UserAgent:           a.conn.Client.UserAgent,
		Client:              a.conn.Client.Client,
		Log:                 a.conn.Client.Log,
		UserID:              user,
		AccessToken:         token,
		SetAppServiceUserID: masquerade,
	}
}

// unknownOr returns ErrUnknownUser if user does not exist, else err. The
// appservice is refused for unknown users with the same 403 as for users
// outside its namespace, so the profile decides.
func (a *dendriteAdmin) unknownOr(ctx context.Context, user id.UserID, err error) error {
	if errors.Is(err, mautrix.MForbidden) {
		if _, perr := a.conn.Client.GetProfile(ctx, user); errors.Is(perr, mautrix.MNotFound) {
			return ErrUnknownUser
		}
	}
	return err
}

// CreateAccount registers through shared-secret registration with the
// display name in the same request, then logs out the device the
// registration made. Dendrite answers M_USER_IN_USE for an existing account,
// deactivated or not.
func (a *dendriteAdmin) CreateAccount(ctx context.Context, localpart, password, displayName string) (id.UserID, bool, error) {
	user, err := a.localUser(localpart)
	if err != nil {
		return "", false, err
	}
	adm := synapseadmin.Client{Client: a.client("", "", false)}
	nonce, err := adm.GetRegisterNonce(ctx)
	if err != nil {
		return user, false, fmt.Errorf("create account %s: registration nonce: %w", user, err)
	}
	req := synapseadmin.ReqSharedSecretRegister{Username: localpart, Password: password, Displayname: displayName, Nonce: nonce}
	req.SHA1Checksum = req.Sign(a.sharedSecret)
	var resp mautrix.RespRegister
	err = sendSensitive(ctx, adm.Client, http.MethodPost, adm.BuildAdminURL("v1", "register"), &req, &resp)
	if errors.Is(err, mautrix.MUserInUse) {
		return user, false, nil
	} else if err != nil {
		return user, false, fmt.Errorf("create account %s: %w", user, err)
	}
	if resp.UserID != user {
		return user, true, fmt.Errorf("create account %s: the server registered %s", user, resp.UserID)
	}
	if _, err := a.client(user, resp.AccessToken, false).Logout(ctx); err != nil {
		a.conn.Client.Log.Warn().Err(err).Stringer("user_id", user).Msg("Could not log out the device of a new account")
	}
	return user, true, nil
}

// SetDisplayName sets the display name as the user, through the appservice.
func (a *dendriteAdmin) SetDisplayName(ctx context.Context, user id.UserID, name string) error {
	if err := a.checkLocal(user); err != nil {
		return err
	}
	if err := a.as(user).SetDisplayName(ctx, name); err != nil {
		return fmt.Errorf("set display name of %s: %w", user, a.unknownOr(ctx, user, err))
	}
	return nil
}

// Join invites the user as the service account unless it is invited or
// joined already, then joins as the user through the appservice. Dendrite
// would let a deactivated account rejoin that way, hence refuseInactive.
func (a *dendriteAdmin) Join(ctx context.Context, roomID id.RoomID, user id.UserID) error {
	if err := a.checkLocal(user); err != nil {
		return err
	}
	m, err := a.membership(ctx, roomID, user)
	if err != nil {
		return err
	} else if m == event.MembershipJoin {
		return nil
	}
	if err := refuseInactive(ctx, a, roomID, user); err != nil {
		return err
	}
	if m != event.MembershipInvite {
		if _, err := a.conn.Client.InviteUser(ctx, roomID, &mautrix.ReqInviteUser{UserID: user}); err != nil {
			m, merr := a.membership(ctx, roomID, user)
			if merr != nil || (m != event.MembershipInvite && m != event.MembershipJoin) {
				return fmt.Errorf("invite %s to %s: %w", user, roomID, err)
			} else if m == event.MembershipJoin {
				return nil
			}
		}
	}
	if _, err := a.as(user).JoinRoomByID(ctx, roomID); err != nil {
		return a.joinedAfter(ctx, roomID, user, fmt.Errorf("join %s to %s: %w", user, roomID, err))
	}
	return nil
}

// Deactivate sets a random password and logs out every device
// (`/_dendrite/admin/resetPassword`), which locks the user out at once, then
// logs in with that password and deactivates through `/account/deactivate`
// (user-interactive auth with the password). A login refused right after the
// reset means the account is deactivated already. Last, it records the
// deactivation in the user's account data for AccountState.
func (a *dendriteAdmin) Deactivate(ctx context.Context, user id.UserID) error {
	if err := a.checkLocal(user); err != nil {
		return err
	}
	password, err := RandomPassword()
	if err != nil {
		return fmt.Errorf("deactivate %s: %w", user, err)
	}
	if err := a.ResetPassword(ctx, user, password, true); err != nil {
		return fmt.Errorf("deactivate: %w", err)
	}

	cli := a.client("", "", false)
	login, err := cli.Login(ctx, &mautrix.ReqLogin{
		Type:                     mautrix.AuthTypePassword,
		Identifier:               mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: user.String()},
		Password:                 password,
		InitialDeviceDisplayName: DeviceDisplayName + " (deactivation)",
	})
	switch {
	case errors.Is(err, mautrix.MForbidden) || errors.Is(err, mautrix.MUserDeactivated):
		// Dendrite refuses passwords of deactivated accounts only.
	case err != nil:
		return fmt.Errorf("deactivate %s: log in as the user: %w", user, err)
	default:
		cli = a.client(login.UserID, login.AccessToken, false)
		req := map[string]any{"auth": map[string]any{
			"type":       mautrix.AuthTypePassword,
			"identifier": mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: user.String()},
			"password":   password,
		}}
		if err := sendSensitive(ctx, cli, http.MethodPost, cli.BuildClientURL("v3", "account", "deactivate"), req, nil); err != nil {
			_, _ = cli.Logout(ctx)
			return fmt.Errorf("deactivate %s: %w", user, err)
		}
	}
	if err := a.as(user).SetAccountData(ctx, DeactivationMarkerType, a.marker(user)); err != nil {
		return fmt.Errorf("deactivate %s: record the deactivation: %w", user, err)
	}
	return nil
}

// ResetPassword uses `/_dendrite/admin/resetPassword`.
func (a *dendriteAdmin) ResetPassword(ctx context.Context, user id.UserID, password string, logoutDevices bool) error {
	if err := a.checkLocal(user); err != nil {
		return err
	}
	reset := struct {
		Password      string `json:"password"`
		LogoutDevices bool   `json:"logout_devices"`
	}{password, logoutDevices}
	resetURL := a.conn.Client.BuildURL(mautrix.BaseURLPath{"_dendrite", "admin", "resetPassword", user})
	var httpErr mautrix.HTTPError
	if err := sendSensitive(ctx, a.conn.Client, http.MethodPost, resetURL, &reset, nil); errors.As(err, &httpErr) && httpErr.IsStatus(http.StatusNotFound) && !errors.Is(err, mautrix.MUnrecognized) {
		// Dendrite answers 404 M_UNKNOWN "User does not exist".
		return fmt.Errorf("reset the password of %s: %w", user, ErrUnknownUser)
	} else if err != nil {
		return fmt.Errorf("reset the password of %s: %w", user, err)
	}
	return nil
}

// AccountState tells existence by the user's profile, which Dendrite makes
// with every account and keeps after deactivation. Dendrite v0.13.8 exposes
// no deactivation flag: an account deactivated by Deactivate is recognised
// by its marker; for any other existing account the error wraps
// ErrUnsupported.
func (a *dendriteAdmin) AccountState(ctx context.Context, user id.UserID) (exists, deactivated bool, err error) {
	if err := a.checkLocal(user); err != nil {
		return false, false, err
	}
	if _, err := a.conn.Client.GetProfile(ctx, user); errors.Is(err, mautrix.MNotFound) {
		return false, false, nil
	} else if err != nil {
		return false, false, fmt.Errorf("query account %s: %w", user, err)
	}
	var got deactivationMarker
	err = a.as(user).GetAccountData(ctx, DeactivationMarkerType, &got)
	if err != nil && !errors.Is(err, mautrix.MNotFound) {
		return true, false, fmt.Errorf("query account %s: deactivation marker: %w", user, err)
	}
	if err == nil && hmac.Equal([]byte(got.MAC), []byte(a.marker(user).MAC)) {
		return true, true, nil
	}
	return true, false, fmt.Errorf("whether %s is deactivated (Dendrite shows only deactivations made by Landesmessenger): %w", user, ErrUnsupported)
}
