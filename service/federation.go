package service

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/federation"
	"github.com/landesmessenger/landesmessenger/store"
)

// ErrNoFederationList means a federation list is configured but none was
// ever accepted: provisioning does not run, since room ACLs without the
// list could be wider than the list allows.
var ErrNoFederationList = errors.New("no valid federation list")

// ListKeeper holds the federation list in force. It fetches the configured
// list, accepts it only if it is signed by a trusted key, valid now and not
// older than the list in force, and otherwise keeps the last good list
// (also across restarts, through the store). A refused list never widens
// access: the list in force stays, or, if there never was one, provisioning
// stops.
type ListKeeper struct {
	Config *config.Federation
	Store  *store.Store
	Log    logrus.FieldLogger
	// Now is the clock; time.Now if nil.
	Now func() time.Time
	// HTTP fetches lists from https URLs (see federation.Fetch).
	HTTP *http.Client
	// Notify, if set, also receives what the log says about refused and
	// accepted lists, e.g. for the Land's admin room.
	Notify func(ctx context.Context, text string)

	cur     *federation.List
	fetched time.Time
	// refused remembers the last refusal, so that the same refusal is not
	// repeated on every refresh.
	refused string
}

func (k *ListKeeper) now() time.Time {
	if k.Now != nil {
		return k.Now()
	}
	return time.Now()
}

// Current returns the list in force.
func (k *ListKeeper) Current() *federation.List { return k.cur }

// keys reads the trusted public keys.
func (k *ListKeeper) keys() ([]federation.PublicKey, error) {
	keys, err := federation.ReadPublicKeys(k.Config.PublicKeyFiles)
	if err != nil {
		return nil, fmt.Errorf("federation: public key: %w", err)
	}
	return keys, nil
}

// Load takes the last good list from the store, if any. Its signature is
// checked again (the database is not trusted more than the list's source);
// its validity period is not, since it is the last good one.
func (k *ListKeeper) Load(ctx context.Context) error {
	saved, err := k.Store.FederationList(ctx)
	if err != nil || saved == nil {
		return err
	}
	keys, err := k.keys()
	if err != nil {
		return err
	}
	l, err := federation.VerifySignature(saved.Document, keys)
	if err != nil {
		k.Log.WithError(err).Error("the federation list kept in the database does not verify; ignoring it")
		return nil
	}
	k.cur = l
	k.Log.WithFields(logrus.Fields{"version": l.Version, "expires_at": l.ExpiresAt}).Info("federation list from the database")
	return nil
}

// Due reports whether the list should be fetched again.
func (k *ListKeeper) Due() bool {
	return k.cur == nil || !k.now().Before(k.fetched.Add(k.Config.Refresh))
}

// Refresh fetches the configured list and adopts it if it is acceptable.
// It reports whether the list in force changed. It returns an error
// (wrapping ErrNoFederationList) only when no list is in force at all.
func (k *ListKeeper) Refresh(ctx context.Context) (changed bool, err error) {
	k.fetched = k.now()
	doc, err := federation.Fetch(ctx, k.HTTP, k.Config.List)
	var l *federation.List
	if err == nil {
		var keys []federation.PublicKey
		if keys, err = k.keys(); err == nil {
			l, changed, err = federation.Accept(doc, keys, k.now(), k.cur)
		}
	}
	if err != nil {
		return false, k.refuse(ctx, err)
	}
	k.refused = ""
	if changed {
		if err := k.Store.SaveFederationList(ctx, l.Version, doc); err != nil {
			return false, err
		}
		msg := fmt.Sprintf("Föderationsliste Version %d übernommen (gültig bis %s).", l.Version, l.ExpiresAt.UTC().Format(time.RFC3339))
		k.Log.WithFields(logrus.Fields{"version": l.Version, "expires_at": l.ExpiresAt, "issuer": l.Issuer}).Info("federation list accepted")
		k.notify(ctx, msg)
	}
	k.cur = l
	return changed, nil
}

// refuse logs a refused or unreadable list and says what stays in force.
func (k *ListKeeper) refuse(ctx context.Context, err error) error {
	fields := logrus.Fields{"list": k.Config.List}
	if r := federation.ReasonOf(err); r != "" {
		fields["reason"] = string(r)
	}
	if k.cur == nil {
		k.Log.WithFields(fields).WithError(err).Error("federation list refused and no earlier list is in force: provisioning stops until a valid list is available")
		if k.refused != err.Error() {
			k.refused = err.Error()
			k.notify(ctx, fmt.Sprintf("Föderationsliste abgelehnt, keine frühere gültige Liste vorhanden: Provisionierung angehalten. Grund: %v", err))
		}
		return fmt.Errorf("%w: %w", ErrNoFederationList, err)
	}
	fields["version_in_force"] = k.cur.Version
	if !k.now().Before(k.cur.ExpiresAt) {
		fields["expired_at"] = k.cur.ExpiresAt
		k.Log.WithFields(fields).Warn("the federation list in force has expired: the IT authority must issue a new one; it stays in force until then")
	}
	k.Log.WithFields(fields).WithError(err).Error("federation list refused; keeping the last good list")
	if k.refused != err.Error() {
		k.refused = err.Error()
		k.notify(ctx, fmt.Sprintf("Föderationsliste abgelehnt; die zuletzt gültige Version %d bleibt in Kraft. Grund: %v", k.cur.Version, err))
	}
	return nil
}

func (k *ListKeeper) notify(ctx context.Context, text string) {
	if k.Notify != nil {
		k.Notify(ctx, text)
	}
}
