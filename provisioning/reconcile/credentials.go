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
	"syscall"

	"maunium.net/go/mautrix/id"
)

// Credentials is the 0600 file of initial passwords,
// {"@user:server": "password", ...}. A password is written before its
// account is created, so a crash in between loses nothing. Passwords never
// reach a log.
//
// Several writers may share the file (serve and an apply run by hand, or
// two parts of serve): every change takes an exclusive lock of PATH.lock,
// reads the file again, merges and writes it back, so that no writer drops
// another's passwords, and two writers that need the same user's password
// agree on one.
type Credentials struct {
	path string
	mu   sync.Mutex
	pw   map[id.UserID]string
}

// LoadCredentials reads the credentials file at path, if it exists.
func LoadCredentials(path string) (*Credentials, error) {
	pw, err := readCredentials(path)
	if err != nil {
		return nil, err
	}
	return &Credentials{path: path, pw: pw}, nil
}

func readCredentials(path string) (map[id.UserID]string, error) {
	pw := map[id.UserID]string{}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return pw, nil
	} else if err != nil {
		return nil, fmt.Errorf("read credentials file: %w", err)
	}
	if err := json.Unmarshal(data, &pw); err != nil {
		return nil, fmt.Errorf("credentials file %s: invalid JSON (%v)", path, errors.Unwrap(err))
	}
	return pw, nil
}

// PasswordFor returns the password recorded for user, generating and
// recording a new one (on disk, before returning) if there is none.
func (c *Credentials) PasswordFor(user id.UserID) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if pw, ok := c.pw[user]; ok {
		return pw, nil
	}
	var pw string
	err := c.update(func(cur map[id.UserID]string) (bool, error) {
		if have, ok := cur[user]; ok {
			pw = have // another writer made it meanwhile
			return false, nil
		}
		var err error
		if pw, err = newPassword(); err != nil {
			return false, err
		}
		cur[user] = pw
		return true, nil
	})
	if err != nil {
		return "", err
	}
	return pw, nil
}

// update runs change on the passwords as the file holds them now, under
// the file's lock, and writes them back if change says so. c.pw is the
// file's content afterwards (or before, if writing failed).
func (c *Credentials) update(change func(map[id.UserID]string) (bool, error)) error {
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return fmt.Errorf("credentials file: %w", err)
	}
	lock, err := os.OpenFile(c.path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("credentials file lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("credentials file lock %s: %w", lock.Name(), err)
	}
	cur, err := readCredentials(c.path)
	if err != nil {
		return err
	}
	// What this writer saved is on disk already unless a writer without
	// the lock dropped it: keep it.
	for u, pw := range c.pw {
		if _, ok := cur[u]; !ok {
			cur[u] = pw
		}
	}
	changed, err := change(cur)
	if err != nil {
		return err
	}
	if changed {
		if err := save(c.path, cur); err != nil {
			return err
		}
	}
	c.pw = cur
	return nil
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
	err = c.update(func(cur map[id.UserID]string) (bool, error) {
		cur[user] = pw
		return true, nil
	})
	if err != nil {
		return "", err
	}
	return pw, nil
}

// save writes the passwords to path atomically with mode 0600.
func save(path string, pw map[id.UserID]string) error {
	data, err := json.MarshalIndent(pw, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".credentials-*")
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
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("credentials file: %w", err)
	}
	return nil
}
