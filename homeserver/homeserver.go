// Package homeserver is Landesmessenger's adapter to Matrix homeservers: it
// connects the service account, detects which implementation answers (Synapse
// or Dendrite) and registers accounts through shared-secret registration.
// Differences between implementations are capabilities of a Conn, not
// if-chains in the callers.
package homeserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"
	"maunium.net/go/mautrix/synapseadmin"
)

// Implementation is the homeserver software behind a client URL.
type Implementation string

// The implementations Landesmessenger knows.
const (
	Synapse  Implementation = "synapse"
	Dendrite Implementation = "dendrite"
	Unknown  Implementation = "unknown"
)

// Endpoint says where a homeserver is.
type Endpoint struct {
	// Name is the homeserver's name in the configuration, e.g. "land".
	Name string
	// ServerName is the Matrix server name.
	ServerName string
	// ClientURL is the base URL of the client-server API.
	ClientURL string
}

// Credentials of the service account. A saved session is tried first; the
// password is used to log in when there is no session or it was revoked.
type Credentials struct {
	UserID      id.UserID
	Password    string
	AccessToken string
}

// Session is a login of the service account worth keeping between starts, so
// that a restart does not add a device every time.
type Session struct {
	UserID      id.UserID
	DeviceID    id.DeviceID
	AccessToken string
}

// Conn is a checked connection of the service account to one homeserver.
type Conn struct {
	Endpoint       Endpoint
	Client         *mautrix.Client
	Implementation Implementation
	Version        string
	// SpecVersions are the client-server spec versions the server
	// advertises (Dendrite v0.13.8 stops at v1.2).
	SpecVersions []mautrix.SpecVersion
	// Requests counts the requests made through Client.
	Requests *RequestCounter
	// Session is the login in use; callers store it when it changed.
	Session Session
	// NewSession is true when Connect had to log in afresh.
	NewSession bool
}

// ErrNoCredentials is returned when neither a usable token nor a password is
// configured.
var ErrNoCredentials = errors.New("no usable access token and no password for the service account")

// DeviceDisplayName is how the service account's device shows in clients.
const DeviceDisplayName = "Landesmessenger"

// Connect checks that the homeserver answers, detects its implementation, and
// checks the service account's credentials: the saved session if any, then a
// configured access token, then a password login. Errors never contain a
// secret.
func Connect(ctx context.Context, ep Endpoint, creds Credentials, saved *Session, log zerolog.Logger) (*Conn, error) {
	cli, err := mautrix.NewClient(ep.ClientURL, creds.UserID, "")
	if err != nil {
		return nil, fmt.Errorf("homeserver %s: client URL: %w", ep.Name, err)
	}
	cli.Log = log
	counter := newRequestCounter()
	cli.Client = &http.Client{Timeout: 30 * time.Second, Transport: counter}
	// Retries are ours (with retry_after_ms), not mautrix's.
	cli.DefaultHTTPRetries = 0
	versions, err := cli.Versions(ctx)
	if err != nil {
		return nil, fmt.Errorf("homeserver %s at %s does not answer: %w", ep.Name, ep.ClientURL, err)
	}
	impl, version := Detect(ctx, cli)
	conn := &Conn{Endpoint: ep, Client: cli, Implementation: impl, Version: version, SpecVersions: versions.Versions, Requests: counter}

	try := func(s Session) error {
		cli.UserID, cli.DeviceID, cli.AccessToken = s.UserID, s.DeviceID, s.AccessToken
		who, err := cli.Whoami(ctx)
		if err != nil {
			return err
		}
		if creds.UserID != "" && who.UserID != creds.UserID {
			return fmt.Errorf("token belongs to %s, not %s", who.UserID, creds.UserID)
		}
		conn.Session = Session{UserID: who.UserID, DeviceID: who.DeviceID, AccessToken: s.AccessToken}
		cli.UserID, cli.DeviceID = who.UserID, who.DeviceID
		return nil
	}
	var errs []error
	if saved != nil && saved.AccessToken != "" {
		if err := try(*saved); err == nil {
			return conn, nil
		} else {
			errs = append(errs, fmt.Errorf("saved session: %w", err))
		}
	}
	if creds.AccessToken != "" {
		if err := try(Session{UserID: creds.UserID, AccessToken: creds.AccessToken}); err == nil {
			return conn, nil
		} else {
			errs = append(errs, fmt.Errorf("access token: %w", err))
		}
	}
	if creds.Password == "" {
		return nil, fmt.Errorf("homeserver %s: %w", ep.Name, errors.Join(append(errs, ErrNoCredentials)...))
	}
	cli.AccessToken = ""
	resp, err := cli.Login(ctx, &mautrix.ReqLogin{
		Type:                     mautrix.AuthTypePassword,
		Identifier:               mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: string(creds.UserID)},
		Password:                 creds.Password,
		InitialDeviceDisplayName: DeviceDisplayName,
		StoreCredentials:         true,
	})
	if err != nil {
		return nil, fmt.Errorf("homeserver %s: log in as %s: %w", ep.Name, creds.UserID, err)
	}
	conn.Session = Session{UserID: resp.UserID, DeviceID: resp.DeviceID, AccessToken: resp.AccessToken}
	conn.NewSession = true
	return conn, nil
}

// Detect tells Synapse from Dendrite by the endpoints only each of them has.
func Detect(ctx context.Context, cli *mautrix.Client) (Implementation, string) {
	var sv struct {
		ServerVersion string `json:"server_version"`
	}
	adminURL := cli.BuildURL(mautrix.SynapseAdminURLPath{"v1", "server_version"})
	if _, err := cli.MakeRequest(ctx, http.MethodGet, adminURL, nil, &sv); err == nil && sv.ServerVersion != "" {
		return Synapse, sv.ServerVersion
	}
	upURL := cli.BuildURL(mautrix.BaseURLPath{"_dendrite", "monitor", "up"})
	if _, err := cli.MakeRequest(ctx, http.MethodGet, upURL, nil, nil); err == nil {
		return Dendrite, ""
	}
	return Unknown, ""
}

// RegisterSharedSecret creates the account localpart with password through
// shared-secret registration (Synapse's admin register API, which Dendrite
// implements too). The error never contains the secret or the password.
func RegisterSharedSecret(ctx context.Context, clientURL, secret, localpart, password string, admin bool) (*mautrix.RespRegister, error) {
	cli, err := mautrix.NewClient(clientURL, "", "")
	if err != nil {
		return nil, err
	}
	cli.Client = &http.Client{Timeout: 30 * time.Second}
	adm := &synapseadmin.Client{Client: cli}
	resp, err := adm.SharedSecretRegister(ctx, secret, synapseadmin.ReqSharedSecretRegister{
		Username: localpart,
		Password: password,
		Admin:    admin,
	})
	if err != nil {
		return nil, fmt.Errorf("shared-secret registration of %s: %w", localpart, err)
	}
	return resp, nil
}
