package onboarding

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"sort"
	"strconv"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/provisioning"
	"github.com/landesmessenger/landesmessenger/store"
)

// Status is where a person stands with the instruction in force.
type Status string

// The statuses of a report.
const (
	// Acknowledged: the person acknowledged the version in force.
	Acknowledged Status = "acknowledged"
	// Pending: not yet acknowledged, and not overdue.
	Pending Status = "pending"
	// Overdue: not acknowledged, and either the person acknowledged an
	// earlier version and the grace period of the version in force has
	// run out (they lost access to official rooms), or the instruction
	// was first sent more than twice reminder_after ago (they were
	// reminded and still did not acknowledge).
	Overdue Status = "overdue"
)

// Entry is one person of a report. Times are RFC 3339 in UTC, "" if unset.
type Entry struct {
	Person string `json:"person"`
	UserID string `json:"user_id"`
	Tenant string `json:"tenant"`
	Unit   string `json:"unit"`
	Status Status `json:"status"`
	// Version is the latest version the person acknowledged (maybe an
	// earlier one than in force), "" if none.
	Version        string `json:"version"`
	AcknowledgedAt string `json:"acknowledged_at"`
	// TextHash is the SHA-256 of the instruction text acknowledged.
	TextHash string `json:"text_hash"`
	// AskedAt is when the bot sent the version in force, "" if not yet
	// (no account, or the person never logged in on a device that can
	// read encrypted messages).
	AskedAt string `json:"asked_at"`
	// Access reports whether the person is in the official rooms (false:
	// only in the welcome room).
	Access bool `json:"access"`
}

// Query selects what a report covers.
type Query struct {
	Onboarding config.Onboarding
	// People are the directory's people with the overrides applied;
	// disabled people and external guests are left out.
	People []provisioning.Person
	// UserID is the Matrix account of a person.
	UserID func(provisioning.Person) id.UserID
	// Tenant, if set, selects one tenant's people.
	Tenant config.TenantID
	// Now is the time the report is made for.
	Now time.Time
}

// ErrNotConfigured is returned by Report when the configuration has no
// onboarding section.
var ErrNotConfigured = errors.New("onboarding: the configuration has no onboarding section")

// Report returns one entry per person of q, by tenant and person. It only
// reads st. The admin bot's chat command calls it with its Env's People and
// UserID.
func Report(ctx context.Context, st *store.Store, q Query) ([]Entry, error) {
	o := q.Onboarding
	if o.Version == "" {
		return nil, ErrNotConfigured
	}
	acks, err := acknowledged(ctx, st)
	if err != nil {
		return nil, err
	}
	versions, err := st.OnboardingVersions(ctx)
	if err != nil {
		return nil, err
	}
	first, ok := versions[o.Version]
	if !ok {
		first = q.Now // not seen by serve yet: as if from now
	}
	dms, err := st.OnboardingDMs(ctx)
	if err != nil {
		return nil, err
	}
	dmOf := map[string]store.OnboardingDM{}
	for _, dm := range dms {
		dmOf[dm.Person] = dm
	}
	var out []Entry
	for _, p := range q.People {
		if p.Disabled || p.External || (q.Tenant != "" && p.Tenant != q.Tenant) {
			continue
		}
		e := Entry{Person: string(p.ID), UserID: q.UserID(p).String(), Tenant: string(p.Tenant), Unit: string(p.Unit)}
		mine := acks[p.ID]
		var latest store.OnboardingAck
		for _, a := range mine {
			if a.At.After(latest.At) {
				latest = a
			}
		}
		if latest.Version != "" {
			e.Version, e.AcknowledgedAt, e.TextHash = latest.Version, stamp(latest.At), latest.TextHash
		}
		if dm := dmOf[string(p.ID)]; dm.Version == o.Version {
			e.AskedAt = stamp(dm.SentAt)
		}
		e.Access = hasAccess(mine, o, first, q.Now)
		e.Status = standing(mine, dmOf[string(p.ID)], o, first, q.Now)
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Tenant != out[j].Tenant {
			return out[i].Tenant < out[j].Tenant
		}
		return out[i].Person < out[j].Person
	})
	return out, nil
}

// standing is the status of a person with acks and direct chat dm.
func standing(acks map[string]store.OnboardingAck, dm store.OnboardingDM, o config.Onboarding, first, now time.Time) Status {
	if _, ok := acks[o.Version]; ok {
		return Acknowledged
	}
	lostAccess := len(acks) > 0 && !now.Before(first.Add(o.Grace))
	longAsked := dm.Version == o.Version && !dm.SentAt.IsZero() && now.Sub(dm.SentAt) > 2*o.ReminderAfter
	if lostAccess || longAsked {
		return Overdue
	}
	return Pending
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// WriteJSON writes entries as JSON lines: one object per line.
func WriteJSON(w io.Writer, entries []Entry) error {
	enc := json.NewEncoder(w)
	for _, e := range entries {
		if err := enc.Encode(e); err != nil {
			return err
		}
	}
	return nil
}

// csvHeader are the columns of WriteCSV, the JSON names of Entry.
var csvHeader = []string{"person", "user_id", "tenant", "unit", "status", "version", "acknowledged_at", "text_hash", "asked_at", "access"}

// WriteCSV writes entries as CSV with a header line.
func WriteCSV(w io.Writer, entries []Entry) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	for _, e := range entries {
		row := []string{e.Person, e.UserID, e.Tenant, e.Unit, string(e.Status), e.Version, e.AcknowledgedAt, e.TextHash, e.AskedAt, strconv.FormatBool(e.Access)}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
