package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
)

// MaxSecretSize is the largest secret file ReadSecret accepts, in bytes.
const MaxSecretSize = 64 << 10

// ErrEmptySecret is returned (wrapped) by ReadSecret for a secret file that
// contains nothing but whitespace.
var ErrEmptySecret = errors.New("file is empty")

// ErrSecretTooLarge is returned (wrapped) by ReadSecret for a secret file
// larger than MaxSecretSize.
var ErrSecretTooLarge = fmt.Errorf("file is larger than %d bytes", MaxSecretSize)

// ReadSecret reads the secret file at path and returns its content with
// surrounding whitespace removed. Relative paths are resolved against the
// working directory. It fails if the file cannot be read, is larger than
// MaxSecretSize or contains only whitespace. Its errors name the path and
// the cause but never include the content of the file.
func ReadSecret(path string) (string, error) {
	if path == "" {
		return "", errors.New("read secret file: no path given")
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read secret file: %w", err)
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil {
		if err := checkSecretMode(path, info); err != nil {
			return "", err
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSecretSize+1))
	if err != nil {
		return "", fmt.Errorf("read secret file: %w", err)
	}
	if len(data) > MaxSecretSize {
		return "", fmt.Errorf("read secret file %s: %w", path, ErrSecretTooLarge)
	}
	secret := strings.TrimSpace(string(data))
	if secret == "" {
		return "", fmt.Errorf("read secret file %s: %w", path, ErrEmptySecret)
	}
	return secret, nil
}

// ErrSecretMode is returned (wrapped) by ReadSecret for a secret file that
// group or others may access (issue 14, finding 12).
var ErrSecretMode = errors.New("group and others must have no access")

// checkSecretMode refuses a regular secret file with any permission for
// group or others, naming the file, its mode and the fix. Pipes and other
// special files (systemd credentials, process substitution) are not
// checked: their modes say nothing about who else can read the secret.
func checkSecretMode(path string, info fs.FileInfo) error {
	if !info.Mode().IsRegular() || info.Mode().Perm()&0o077 == 0 {
		return nil
	}
	return fmt.Errorf("secret file %s has mode %04o: %w (chmod 600 %s)", path, info.Mode().Perm(), ErrSecretMode, path)
}

// secretProblem checks that the secret file at path can be used and returns
// a problem message, or "" if it can. The message explains why the file
// cannot be used without revealing its content. Files that are not regular
// files (named pipes, devices) are only opened, not read, so that checking
// them neither blocks nor consumes a secret that can be read only once.
func secretProblem(path string) string {
	info, err := os.Stat(path)
	switch {
	case err != nil:
		return readProblem(path, err)
	case info.IsDir():
		return fmt.Sprintf("cannot read secret file %q: is a directory", path)
	case !info.Mode().IsRegular():
		f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			return readProblem(path, err)
		}
		f.Close()
		return ""
	}
	_, err = ReadSecret(path)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrEmptySecret):
		return fmt.Sprintf("secret file %q is empty", path)
	case errors.Is(err, ErrSecretTooLarge):
		return fmt.Sprintf("secret file %q is larger than %d bytes", path, MaxSecretSize)
	case errors.Is(err, ErrSecretMode):
		return fmt.Sprintf("secret file %q has mode %04o: group and others must have no access (chmod 600 %s)", path, info.Mode().Perm(), path)
	default:
		return readProblem(path, err)
	}
}

// readProblem describes why the secret file at path cannot be read.
func readProblem(path string, err error) string {
	return fileProblem("secret file", path, err)
}

// fileProblem describes why the file at path, a what (e.g. "secret
// file"), cannot be read.
func fileProblem(what, path string, err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Sprintf("cannot read %s %q: %v", what, path, err)
}
