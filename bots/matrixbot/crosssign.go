package matrixbot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto/signatures"
	"maunium.net/go/mautrix/id"
)

// crossSign makes sure the bot's device is signed by the bot's self-signing
// key: nothing to do if the homeserver shows it signed; else the keys are
// restored from secret storage with the saved recovery key, or, on the first
// start (or if secret storage lost them), made anew and uploaded with the
// password, keeping the recovery key.
func (b *Bot) crossSign(ctx context.Context) error {
	keys, err := queryOwnKeys(ctx, b.cli, b.cfg.UserID)
	if err != nil {
		return err
	}
	if err := keys.checkCrossSigned(b.cfg.UserID, b.cli.DeviceID); err == nil {
		b.log.Debug("device is cross-signed")
		return nil
	} else {
		b.log.WithField("reason", err.Error()).Info("device is not cross-signed yet")
	}

	mach := b.crypto.Machine()
	recovery, err := b.secret(ctx, SecretRecoveryKey)
	if err != nil {
		return err
	}
	if recovery != "" {
		err := mach.VerifyWithRecoveryKey(ctx, recovery)
		if err == nil {
			b.log.Info("signed device with the cross-signing keys from secret storage")
			return nil
		}
		// A homeserver that fails to answer may answer on the next start;
		// keys that are gone or do not fit the recovery key never return.
		var httpErr mautrix.HTTPError
		if errors.As(err, &httpErr) && !errors.Is(err, mautrix.MNotFound) {
			return fmt.Errorf("restore keys from secret storage: %w", err)
		}
		b.log.WithError(err).Warn("cross-signing keys in secret storage are gone or do not fit the recovery key; making new ones")
	} else if _, ok := keys.MasterKeys[b.cfg.UserID]; ok {
		b.log.Warn("no recovery key saved for the existing cross-signing keys; replacing them")
	}

	recovery, _, err = mach.GenerateAndUploadCrossSigningKeysWithPassword(ctx, b.cfg.Password, "")
	if err != nil {
		return fmt.Errorf("make and upload keys: %w", err)
	}
	if err := b.setSecret(ctx, SecretRecoveryKey, recovery); err != nil {
		return err
	}
	if err := mach.SignOwnDevice(ctx, mach.OwnIdentity()); err != nil {
		return fmt.Errorf("sign device: %w", err)
	}
	b.log.Info("made cross-signing keys and signed the device")
	return nil
}

// ownKeys is a /keys/query answer about one user with its objects kept as
// sent, so that their signatures can be checked over every field.
type ownKeys struct {
	DeviceKeys      map[id.UserID]map[id.DeviceID]json.RawMessage `json:"device_keys"`
	MasterKeys      map[id.UserID]json.RawMessage                 `json:"master_keys"`
	SelfSigningKeys map[id.UserID]json.RawMessage                 `json:"self_signing_keys"`
}

func queryOwnKeys(ctx context.Context, cli *mautrix.Client, user id.UserID) (*ownKeys, error) {
	req := &mautrix.ReqQueryKeys{DeviceKeys: mautrix.DeviceKeysRequest{user: mautrix.DeviceIDList{}}}
	var resp ownKeys
	if _, err := cli.MakeRequest(ctx, http.MethodPost, cli.BuildClientURL("v3", "keys", "query"), req, &resp); err != nil {
		return nil, fmt.Errorf("query keys of %s: %w", user, err)
	}
	return &resp, nil
}

// checkCrossSigned checks that device of user is signed by user's
// self-signing key and that key by user's master key.
func (k *ownKeys) checkCrossSigned(user id.UserID, device id.DeviceID) error {
	master, err := onlyKey(k.MasterKeys[user], "master")
	if err != nil {
		return err
	}
	selfSigning, err := onlyKey(k.SelfSigningKeys[user], "self-signing")
	if err != nil {
		return err
	}
	if err := checkSigned(k.SelfSigningKeys[user], user, master); err != nil {
		return fmt.Errorf("self-signing key %s by master key %s: %w", selfSigning, master, err)
	}
	dev, ok := k.DeviceKeys[user][device]
	if !ok {
		return fmt.Errorf("device %s has no keys", device)
	}
	if err := checkSigned(dev, user, selfSigning); err != nil {
		return fmt.Errorf("device %s by self-signing key %s: %w", device, selfSigning, err)
	}
	return nil
}

// onlyKey returns the single ed25519 key of a cross-signing key object.
func onlyKey(raw json.RawMessage, usage string) (id.Ed25519, error) {
	if raw == nil {
		return "", fmt.Errorf("no %s key", usage)
	}
	var keys mautrix.CrossSigningKeys
	if err := json.Unmarshal(raw, &keys); err != nil {
		return "", fmt.Errorf("%s key: %w", usage, err)
	}
	if len(keys.Keys) != 1 {
		return "", fmt.Errorf("%s key object has %d keys, want 1", usage, len(keys.Keys))
	}
	return keys.FirstKey(), nil
}

func checkSigned(raw json.RawMessage, user id.UserID, key id.Ed25519) error {
	ok, err := signatures.VerifySignatureJSON(raw, user, key.String(), key)
	switch {
	case err != nil:
		return err
	case !ok:
		return errors.New("signature does not verify")
	}
	return nil
}
