package matrixbot

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/sirupsen/logrus"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"
)

// pickleKeySize is the length of a new pickle key in bytes.
const pickleKeySize = 32

func (b *Bot) secret(ctx context.Context, name string) (string, error) {
	v, err := b.cfg.State.Secret(ctx, b.cfg.UserID, name)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", name, err)
	}
	return v, nil
}

func (b *Bot) setSecret(ctx context.Context, name, value string) error {
	if err := b.cfg.State.SetSecret(ctx, b.cfg.UserID, name, value); err != nil {
		return fmt.Errorf("save %s: %w", name, err)
	}
	return nil
}

// pickleKey returns the key that encrypts the bot's crypto state: the
// configured one, never saved in the database (issue 14, finding 12). A
// key an earlier version saved in the database encrypts existing state and
// is used instead, with a warning.
func (b *Bot) pickleKey(ctx context.Context) ([]byte, error) {
	saved, err := b.secret(ctx, SecretPickleKey)
	if err != nil {
		return nil, err
	}
	if saved != "" {
		key, err := base64.StdEncoding.DecodeString(saved)
		if err != nil || len(key) == 0 {
			return nil, errors.New("saved pickle key is not base64")
		}
		b.log.Warn("the bot's crypto state is encrypted with a key kept in the database (made by an earlier version); log the bot in anew (delete its crypto state) to move it to the key file")
		return key, nil
	}
	return b.cfg.PickleKey, nil
}

// PickleKeyFor derives a bot's pickle key from the service's secret (its
// key file): HMAC-SHA256 over the bot's user ID, so that every bot has a
// key of its own and none is stored.
func PickleKeyFor(secret []byte, user id.UserID) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("landesmessenger pickle key\x00" + user.String()))
	return m.Sum(nil)
}

// NewPickleSecret returns a new random secret for PickleKeyFor.
func NewPickleSecret() ([]byte, error) {
	key := make([]byte, pickleKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("make pickle key: %w", err)
	}
	return key, nil
}

// logIn gives the client a session: the saved one if the homeserver still
// accepts it, else a password login into the same device, so that the crypto
// state in the database stays the device's. The crypto store decides the
// device: a saved session of another device is dropped, and without crypto
// state the bot logs in with a new device.
func (b *Bot) logIn(ctx context.Context) error {
	token, err := b.secret(ctx, SecretAccessToken)
	if err != nil {
		return err
	}
	savedDevice, err := b.secret(ctx, SecretDeviceID)
	if err != nil {
		return err
	}
	device := id.DeviceID(savedDevice)
	stored, err := b.store.FindDeviceID(ctx)
	if err != nil {
		return fmt.Errorf("find device in crypto store: %w", err)
	}
	switch {
	case stored == "" && device != "":
		// The device's keys are gone with the crypto state: only a new
		// device can have new keys.
		b.log.WithField("saved_device_id", savedDevice).Warn("crypto store has no device; logging in with a new device")
		device, token = "", ""
	case stored != device:
		b.log.WithFields(logrus.Fields{"device_id": stored.String(), "saved_device_id": savedDevice}).
			Warn("saved session is not the device of the crypto store; logging in to the crypto store's device")
		device, token = stored, ""
	}

	if token != "" && device != "" {
		b.cli.AccessToken, b.cli.DeviceID = token, device
		who, err := b.cli.Whoami(ctx)
		switch {
		case err == nil && who.UserID == b.cfg.UserID && who.DeviceID == device:
			b.log.WithField("device_id", device.String()).Debug("reusing saved session")
			return nil
		case err == nil:
			b.log.WithFields(logrus.Fields{"whoami_user_id": who.UserID.String(), "whoami_device_id": who.DeviceID.String()}).
				Warn("saved session belongs to another user or device; logging in again")
		case errors.Is(err, mautrix.MUnknownToken):
			b.log.Info("saved session is no longer valid; logging in again")
		default:
			b.cli.AccessToken = ""
			return fmt.Errorf("check saved session: %w", err)
		}
	}
	return b.passwordLogin(ctx, device)
}

// passwordLogin logs in with the password into device (a new device if
// empty) and saves the session.
func (b *Bot) passwordLogin(ctx context.Context, device id.DeviceID) error {
	b.cli.AccessToken = ""
	resp, err := b.cli.Login(ctx, &mautrix.ReqLogin{
		Type:                     mautrix.AuthTypePassword,
		Identifier:               mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: b.cfg.UserID.String()},
		Password:                 b.cfg.Password,
		DeviceID:                 device,
		InitialDeviceDisplayName: b.cfg.DeviceName,
		StoreCredentials:         true,
	})
	if err != nil {
		return fmt.Errorf("log in: %w", err)
	}
	if resp.UserID != b.cfg.UserID {
		return fmt.Errorf("log in: homeserver logged in %s", resp.UserID)
	}
	if device != "" && resp.DeviceID != device {
		return fmt.Errorf("log in: homeserver gave device %s instead of %s", resp.DeviceID, device)
	}
	if err := b.setSecret(ctx, SecretAccessToken, resp.AccessToken); err != nil {
		return err
	}
	if err := b.setSecret(ctx, SecretDeviceID, resp.DeviceID.String()); err != nil {
		return err
	}
	b.log.WithField("device_id", resp.DeviceID.String()).Info("logged in with password")
	return nil
}
