package provisioning

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/landesmessenger/landesmessenger/config"
)

// Symbol is how a plan shows an action: "+" create, "~" change, "-" remove.
func Symbol(a Action) string {
	switch a := a.(type) {
	case CreateAccount, CreateRoom, SetAlias, JoinRoom:
		return "+"
	case SetSpaceChild:
		if a.Remove {
			return "-"
		}
		return "+"
	case DeactivateAccount, LockAccount, RemoveMember, LeaveRoom, CloseRoom, RetireDuplicate:
		return "-"
	}
	return "~"
}

// Describe returns a one-line, human description of a.
func Describe(a Action) string {
	switch a := a.(type) {
	case CreateAccount:
		return fmt.Sprintf("account %s %q", a.User, a.DisplayName)
	case SetDisplayName:
		return fmt.Sprintf("display name of %s: %q -> %q", a.User, a.From, a.To)
	case DeactivateAccount:
		if a.Erase {
			return fmt.Sprintf("deactivate and erase %s (gone from the directory)", a.User)
		}
		return fmt.Sprintf("deactivate %s (gone from the directory)", a.User)
	case LockAccount:
		return fmt.Sprintf("lock %s (disabled)", a.User)
	case UnlockAccount:
		return fmt.Sprintf("unlock %s (enabled again; new initial password)", a.User)
	case CreateRoom:
		what := "room"
		if a.Space {
			what = "space"
		}
		return fmt.Sprintf("%s %s %q (#%s)", what, a.Room, a.State.Name, a.Alias)
	case SetAlias:
		return fmt.Sprintf("alias #%s for %s (its creation was interrupted)", a.Alias, a.Room)
	case SetState:
		change := "set"
		if a.Drift {
			change = "restore (changed by hand)"
		}
		s := fmt.Sprintf("%s %s: %s %s", a.Room, a.EventType, change, compact(a.To))
		if r, ok := a.To.(Retention); ok {
			s += " (" + r.String() + ")"
		}
		return s
	case SetSpaceChild:
		if a.Remove {
			return fmt.Sprintf("%s: remove child %s", a.Space, a.ChildID)
		}
		return fmt.Sprintf("%s: add child %s", a.Space, a.Child)
	case JoinRoom:
		return fmt.Sprintf("join %s to %s", a.User, a.Room)
	case RemoveMember:
		return fmt.Sprintf("remove %s from %s (%s)", a.User, a.Room, a.Reason)
	case LeaveRoom:
		return fmt.Sprintf("%s leaves %s as themselves, dropping their power %d first (%s; the service account cannot remove them)",
			a.User, a.Room, a.Power, a.Reason)
	case CloseRoom:
		return fmt.Sprintf("close room %s (remove %d member(s); the room is kept)", a.Room, len(a.Members))
	case RetireDuplicate:
		return fmt.Sprintf("retire %s, a duplicate of %s left by an interrupted run (remove %d member(s))", a.RoomID, a.Room, len(a.Members))
	}
	return a.Kind()
}

func compact(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	s := string(b)
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}

// WriteText writes the plan as a readable diff grouped by tenant, with a
// summary line. names maps tenants to their display names.
func WriteText(w io.Writer, p *Plan, names map[config.TenantID]string) error {
	groups := map[config.TenantID][]Action{}
	for _, a := range p.Actions {
		t, _ := a.Scope()
		groups[t] = append(groups[t], a)
	}
	tenants := make([]string, 0, len(groups))
	for t := range groups {
		tenants = append(tenants, string(t))
	}
	sort.Strings(tenants)
	var b strings.Builder
	counts := map[string]int{}
	for _, t := range tenants {
		if t == "" {
			b.WriteString("Land-wide rooms:\n")
		} else {
			fmt.Fprintf(&b, "Tenant %s (%s):\n", t, names[config.TenantID(t)])
		}
		for _, a := range groups[config.TenantID(t)] {
			sym := Symbol(a)
			counts[sym]++
			fmt.Fprintf(&b, "  %s %s\n", sym, Describe(a))
		}
	}
	for _, warn := range p.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", warn)
	}
	if len(p.Actions) == 0 {
		b.WriteString("In sync: no changes.\n")
	} else {
		fmt.Fprintf(&b, "Plan: %d to create, %d to change, %d to remove.\n", counts["+"], counts["~"], counts["-"])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// MarshalJSON renders the plan as {"actions": [...], "warnings": [...]}.
func (p *Plan) MarshalJSON() ([]byte, error) {
	actions, err := MarshalActions(p.Actions)
	if err != nil {
		return nil, err
	}
	warnings := p.Warnings
	if warnings == nil {
		warnings = []string{}
	}
	return json.Marshal(struct {
		Actions  []json.RawMessage `json:"actions"`
		Warnings []string          `json:"warnings"`
	}{actions, warnings})
}
