package service

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/landesmessenger/landesmessenger/config"
)

// TestFinding12PickleKeyOutsideDatabase is issue 14, finding 12: the
// secret that encrypts the bots' crypto state is a file beside the SQLite
// database (made 0600 on the first start, the same on the next), refused
// when others may read it, and required as a file with PostgreSQL.
func TestFinding12PickleKeyOutsideDatabase(t *testing.T) {
	dir := t.TempDir()
	cfg := &config.Config{Path: "c.yaml", Database: config.Database{URI: "sqlite:" + filepath.Join(dir, "landesmessenger.db")}}
	first, err := loadPickleSecret(cfg)
	if err != nil || len(first) < 32 {
		t.Fatalf("first start: %d bytes, %v", len(first), err)
	}
	keyFile := filepath.Join(dir, "pickle.key")
	info, err := os.Stat(keyFile)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v; want mode 0600", info, err)
	}
	again, err := loadPickleSecret(cfg)
	if err != nil || string(again) != string(first) {
		t.Errorf("second start: another key (%v)", err)
	}
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadPickleSecret(cfg); err == nil || !strings.Contains(err.Error(), "mode 0644") {
		t.Errorf("world-readable key file: %v, want refused naming the mode", err)
	}
	pg := &config.Config{Path: "c.yaml", Database: config.Database{URI: "postgres://lm@127.0.0.1/lm"}}
	if _, err := loadPickleSecret(pg); err == nil || !strings.Contains(err.Error(), "c.yaml: database.pickle_key_file: required with PostgreSQL") {
		t.Errorf("PostgreSQL without a key file: %v", err)
	}
}
