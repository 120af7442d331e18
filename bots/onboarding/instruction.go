// Package onboarding is the data-protection instruction every member of
// staff acknowledges before they get into official rooms: the provisioning
// hook that keeps people who have not acknowledged the version in force in
// their tenant's welcome room (Hook), the onboarding bot that sends the
// instruction into an encrypted direct chat, records acknowledgements and
// reminds (Bot), and the report for tenant admins and data-protection
// officers (Report). For employees the instruction is an acknowledged
// instruction about their duties, not consent.
//
// The Matrix side (accounts, encryption, sync) is package matrixbot; the
// service wires the bot to it through Chat.
package onboarding

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"
	_ "time/tzdata" // dates in messages are in the Land's time zone

	"github.com/landesmessenger/landesmessenger/config"
)

// Instruction is the text of one version of the instruction as the bot
// sends it.
type Instruction struct {
	Version string
	// Markdown is the German text, then the English one after a thematic
	// break: exactly what the bot sends.
	Markdown string
	// Hash is the hex SHA-256 of Markdown, stored with every
	// acknowledgement.
	Hash string
}

// LoadInstruction reads the instruction files of o.
func LoadInstruction(o config.Onboarding) (*Instruction, error) {
	de, err := os.ReadFile(o.InstructionDE)
	if err != nil {
		return nil, fmt.Errorf("onboarding: read instruction: %w", err)
	}
	text := strings.TrimSpace(string(de))
	if o.InstructionEN != "" {
		en, err := os.ReadFile(o.InstructionEN)
		if err != nil {
			return nil, fmt.Errorf("onboarding: read instruction: %w", err)
		}
		text += "\n\n---\n\n" + strings.TrimSpace(string(en))
	}
	sum := sha256.Sum256([]byte(text))
	return &Instruction{Version: o.Version, Markdown: text, Hash: hex.EncodeToString(sum[:])}, nil
}

// IsAcknowledgement reports whether a message acknowledges the instruction:
// `bestätigt`, `bestaetigt` or `acknowledged`, in any case, alone but for
// quotes, punctuation and a ✅ around it.
func IsAcknowledgement(body string) bool {
	s := strings.ToLower(strings.Trim(body, " \t\r\n.!`\"'„“”‚‘’✅\ufe0f"))
	switch s {
	case "bestätigt", "bestaetigt", "acknowledged":
		return true
	}
	return false
}

// isAckReaction reports whether a reaction key acknowledges: ✅ (or ✔️).
func isAckReaction(key string) bool {
	switch strings.TrimSuffix(key, "\ufe0f") {
	case "✅", "✔":
		return true
	}
	return false
}

// berlin is the time zone of dates in messages.
var berlin = func() *time.Location {
	if loc, err := time.LoadLocation("Europe/Berlin"); err == nil {
		return loc
	}
	return time.UTC
}()

// The texts the bot sends besides the instruction: German, then English
// after a thematic break.
func newVersionText(version string, deadline time.Time) string {
	d := deadline.In(berlin)
	return fmt.Sprintf("🔔 Die Datenschutz-Einweisung liegt in einer neuen Fassung (%s) vor. Bitte lesen und bestätigen Sie sie "+
		"bis %s. Danach ruht Ihr Zugang zu den dienstlichen Räumen, bis Sie bestätigt haben."+
		"\n\n---\n\n"+
		"🔔 The data-protection instruction has a new version (%s). Please read and acknowledge it by %s. "+
		"After that your access to the official rooms is suspended until you acknowledge it.",
		version, d.Format("02.01.2006, 15:04 Uhr"), version, d.Format("2 January 2006, 15:04 MST"))
}

func reminderText(version string, access bool, deadline time.Time) string {
	d := deadline.In(berlin)
	de, en := "Bis dahin sind Sie nur im Willkommensraum Ihrer Behörde.", "Until then you are only in your authority's welcome room."
	if access {
		de = fmt.Sprintf("Ab %s ruht sonst Ihr Zugang zu den dienstlichen Räumen.", d.Format("02.01.2006, 15:04 Uhr"))
		en = fmt.Sprintf("Otherwise your access to the official rooms is suspended from %s.", d.Format("2 January 2006, 15:04 MST"))
	}
	return fmt.Sprintf("⏰ Erinnerung: Bitte bestätigen Sie die Datenschutz-Einweisung (Fassung %s): Antworten Sie mit `bestätigt` "+
		"oder reagieren Sie mit ✅ auf die Einweisung. %s"+
		"\n\n---\n\n"+
		"⏰ Reminder: please acknowledge the data-protection instruction (version %s): reply `acknowledged` or react with ✅ "+
		"to the instruction. %s", version, de, version, en)
}

func confirmedText(version string, opened bool) string {
	de, en := "Ihre dienstlichen Räume stehen Ihnen jetzt offen.", "Your official rooms are open to you now."
	if !opened {
		de, en = "Ihre dienstlichen Räume werden in Kürze geöffnet.", "Your official rooms will open shortly."
	}
	return fmt.Sprintf("✅ Danke! Ihre Bestätigung der Datenschutz-Einweisung (Fassung %s) ist gespeichert. %s"+
		"\n\n---\n\n"+
		"✅ Thank you! Your acknowledgement of the data-protection instruction (version %s) is recorded. %s",
		version, de, version, en)
}

func alreadyText(version string) string {
	return fmt.Sprintf("Sie haben die Fassung %s der Datenschutz-Einweisung bereits bestätigt.\n\n---\n\n"+
		"You have acknowledged version %s of the data-protection instruction already.", version, version)
}

func hintText() string {
	return "Bitte bestätigen Sie die Einweisung mit der Antwort `bestätigt` oder mit ✅ als Reaktion auf die Einweisung. " +
		"Fragen beantwortet die oder der Datenschutzbeauftragte Ihrer Behörde." +
		"\n\n---\n\n" +
		"Please acknowledge the instruction by replying `acknowledged` or by reacting with ✅ to the instruction. " +
		"The data-protection officer of your authority answers questions."
}
