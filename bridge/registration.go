package bridge

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"

	"maunium.net/go/mautrix/appservice"
)

// The bridge's appservice.
const (
	// RegistrationID is the appservice's ID.
	RegistrationID = "landesmessenger-schulbruecke"
	// BotLocalpart is the bridge bot's localpart.
	BotLocalpart = "lm-schulbruecke"
)

// WriteRegistration writes the bridge's appservice registration for the
// homeserver serverName to path (mode 0600) and returns it: the bridge
// listens on listen; its namespace is the bot and the ghosts
// (@schule_…:serverName, exclusive). Tokens already in an existing file are
// kept, so that the homeserver and the bridge keep agreeing.
func WriteRegistration(path, serverName, listen string) (*appservice.Registration, error) {
	reg, err := appservice.LoadRegistration(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		reg = appservice.CreateRegistration()
	case err != nil:
		return nil, fmt.Errorf("bridge registration %s: %w", path, err)
	}
	reg.ID = RegistrationID
	reg.URL = "http://" + listen
	reg.SenderLocalpart = BotLocalpart
	limited := false
	reg.RateLimited = &limited
	reg.Namespaces = appservice.Namespaces{}
	server := regexp.QuoteMeta(serverName)
	reg.Namespaces.UserIDs.Register(regexp.MustCompile("@"+regexp.QuoteMeta(GhostPrefix)+".*:"+server), true)
	reg.Namespaces.UserIDs.Register(regexp.MustCompile("@"+BotLocalpart+":"+server), true)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := reg.Save(path); err != nil {
		return nil, fmt.Errorf("bridge registration %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return nil, err
	}
	return reg, nil
}

// ReadRegistration reads the registration WriteRegistration wrote.
func ReadRegistration(path string) (*appservice.Registration, error) {
	reg, err := appservice.LoadRegistration(path)
	if err != nil {
		return nil, fmt.Errorf("bridge registration %s: %w (write it with `landesmessenger bridge generate-registration`)", path, err)
	}
	if reg.ID != RegistrationID || reg.AppToken == "" || reg.ServerToken == "" {
		return nil, fmt.Errorf("bridge registration %s: not the school bridge's (id %q)", path, reg.ID)
	}
	return reg, nil
}
