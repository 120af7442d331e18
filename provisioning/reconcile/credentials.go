package reconcile

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"maunium.net/go/mautrix/id"
)

// Credentials is the 0600 file of initial passwords,
// {"@user:server": "password", ...}. A password is written before its
// account is created, so a crash in between loses nothing. Passwords never
// reach a log.
type Credentials struct {
	path string
	mu   sync.Mutex
	pw   map[id.UserID]string
}

// LoadCredentials reads the credentials file at path, if it exists.
func LoadCredentials(path string) (*Credentials, error) {
	c := &Credentials{path: path, pw: map[id.UserID]string{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	} else if err != nil {
		return nil, fmt.Errorf("read credentials file: %w", err)
	}
	if err := json.Unmarshal(data, &c.pw); err != nil {
		return nil, fmt.Errorf("credentials file %s: invalid JSON (%v)", path, errors.Unwrap(err))
	}
	return c, nil
}

// PasswordFor returns the password recorded for user, generating and
// recording a new one (on disk, before returning) if there is none.
func (c *Credentials) PasswordFor(user id.UserID) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if pw, ok := c.pw[user]; ok {
		return pw, nil
	}
	pw, err := newPassword()
	if err != nil {
		return "", err
	}
	c.pw[user] = pw
	if err := c.save(); err != nil {
		delete(c.pw, user)
		return "", err
	}
	return pw, nil
}

func newPassword() (string, error) {
	buf := make([]byte, 15)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(buf), nil
}

// NewPassword replaces the password of user by a new one, saved before it
// is returned (an account enabled again gets a new initial password).
func (c *Credentials) NewPassword(user id.UserID) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pw, err := newPassword()
	if err != nil {
		return "", err
	}
	old, had := c.pw[user]
	c.pw[user] = pw
	if err := c.save(); err != nil {
		if had {
			c.pw[user] = old
		} else {
			delete(c.pw, user)
		}
		return "", err
	}
	return pw, nil
}

// save writes the file atomically with mode 0600.
func (c *Credentials) save() error {
	data, err := json.MarshalIndent(c.pw, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return fmt.Errorf("credentials file: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.path), ".credentials-*")
	if err != nil {
		return fmt.Errorf("credentials file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("credentials file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), c.path); err != nil {
		return fmt.Errorf("credentials file: %w", err)
	}
	return nil
}
