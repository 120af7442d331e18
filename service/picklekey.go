package service

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/landesmessenger/landesmessenger/bots/matrixbot"
	"github.com/landesmessenger/landesmessenger/config"
)

// PickleKeyFile is where the secret that encrypts the bots' crypto state
// lives: database.pickle_key_file, or pickle.key beside an SQLite
// database. It is never in the database it protects (issue 14, finding 12),
// so a copy of the database alone does not open the bots' keys.
func PickleKeyFile(cfg *config.Config) (string, error) {
	if cfg.Database.PickleKeyFile != "" {
		return cfg.Database.PickleKeyFile, nil
	}
	if cfg.Database.Driver() != config.DriverSQLite {
		return "", fmt.Errorf("%s: database.pickle_key_file: required with PostgreSQL (the key that encrypts the bots' crypto state is kept outside the database)", cfg.Path)
	}
	path := strings.TrimPrefix(cfg.Database.DSN(), "file:")
	path, _, _ = strings.Cut(path, "?")
	return filepath.Join(filepath.Dir(path), "pickle.key"), nil
}

// loadPickleSecret reads the pickle key file, making it (0600, a new random
// key) if it does not exist. A file group or others may read is refused.
func loadPickleSecret(cfg *config.Config) ([]byte, error) {
	path, err := PickleKeyFile(cfg)
	if err != nil {
		return nil, err
	}
	key, err := config.ReadSecret(path)
	if errors.Is(err, fs.ErrNotExist) {
		secret, err := matrixbot.NewPickleSecret()
		if err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, err = f.WriteString(base64.StdEncoding.EncodeToString(secret) + "\n")
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("database.pickle_key_file: make %s: %w", path, err)
		}
		key, err = config.ReadSecret(path)
		if err != nil {
			return nil, fmt.Errorf("database.pickle_key_file: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("database.pickle_key_file: %w", err)
	}
	secret, err := base64.StdEncoding.DecodeString(key)
	if err != nil || len(secret) < 16 {
		return nil, fmt.Errorf("database.pickle_key_file %s: want at least 16 bytes in base64", path)
	}
	return secret, nil
}
