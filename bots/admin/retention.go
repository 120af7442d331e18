package admin

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/provisioning"
	"github.com/landesmessenger/landesmessenger/retention"
)

// This file holds the commands about retention: the periods of a room and
// legal holds (Löschsperren), which stop every deletion they cover.

func (b *Bot) retentionShow(ctx context.Context, req *request) result {
	key, err := b.resolveRoom(ctx, req, req.inv.Args["room"])
	if err != nil {
		return fail(err)
	}
	out, err := b.Env.Plan(ctx)
	if err != nil {
		return fail(err)
	}
	r := out.Desired.Rooms[key]
	if r == nil {
		return fail(errorf("%s", req.t("Unbekannter Raum "+code(string(key))+".", "Unknown room "+code(string(key))+".")))
	}
	p := retention.Resolve(&b.Env.Config().Retention, string(key), r.Tenant, r.Class)
	var s strings.Builder
	fmt.Fprintf(&s, "**%s** (`%s`)\n\n", r.State.Name, key)
	if p.IsZero() {
		s.WriteString(req.t("- Aufbewahrung: unbefristet (keine Löschfrist)\n", "- Retention: kept for ever (no deletion period)\n"))
	} else {
		fmt.Fprintf(&s, "- %s %s\n", req.t("Aufbewahrung:", "Retention:"), p)
	}
	holds, err := b.Store.ActiveHolds(ctx)
	if err != nil {
		return fail(err)
	}
	n := 0
	for _, h := range holds {
		if h.Scope == retention.ScopeRoom && h.Target == string(key) {
			fmt.Fprintf(&s, "- %s %d: %s (%s, %s)\n", req.t("Löschsperre", "Legal hold"), h.ID, code(h.Reason), h.SetBy, h.SetAt.UTC().Format(time.RFC3339))
			n++
		}
	}
	if n == 0 {
		s.WriteString(req.t("- keine Löschsperre auf dem Raum\n", "- no legal hold on the room\n"))
	}
	return result{text: s.String()}
}

// holdTarget is the target of a new hold: a managed room's key, or a
// person's Matrix ID.
func (b *Bot) holdTarget(ctx context.Context, req *request) (retention.Scope, string, error) {
	if req.inv.Spec.Name == "hold room" {
		key, err := b.resolveRoom(ctx, req, req.inv.Args["room"])
		if err != nil {
			return "", "", err
		}
		out, err := b.Env.Plan(ctx)
		if err != nil {
			return "", "", err
		}
		if _, ok := out.Desired.Rooms[key]; !ok {
			if _, ok := out.Current.Rooms[key]; !ok {
				return "", "", errorf("%s", req.t("Unbekannter Raum "+code(string(key))+".", "Unknown room "+code(string(key))+"."))
			}
		}
		return retention.ScopeRoom, string(key), nil
	}
	pid := personID(req.inv.Args["id"])
	p, ok, err := b.personByID(ctx, pid)
	if err != nil {
		return "", "", err
	}
	if !ok {
		return "", "", errorf("%s", req.t("Unbekannte Person "+code(pid)+".", "Unknown person "+code(pid)+"."))
	}
	return retention.ScopePerson, string(b.Env.UserID(p)), nil
}

func (b *Bot) holdSet(ctx context.Context, req *request) result {
	reason := strings.TrimSpace(req.inv.Options["reason"])
	if reason == "" {
		return fail(errorf("%s", req.t("Eine Löschsperre braucht einen Grund: `grund=\"…\"`, z. B. ein Aktenzeichen.",
			"A legal hold needs a reason: `reason=\"…\"`, e.g. a file number.")))
	}
	scope, target, err := b.holdTarget(ctx, req)
	if err != nil {
		return fail(err)
	}
	h := retention.Hold{Scope: scope, Target: target, Reason: reason, SetBy: req.msg.Sender, SetAt: b.now()}
	n, err := b.Store.SetHold(ctx, h)
	if err != nil {
		return fail(err)
	}
	return result{
		text:   fmt.Sprintf(req.t("Löschsperre %d gesetzt auf %s: bis sie aufgehoben ist, wird dort nichts gelöscht.", "Legal hold %d set on %s: nothing there is deleted until it is lifted."), n, code(target)),
		detail: fmt.Sprintf("hold %d: %s %s, reason %q", n, scope, target, reason),
	}
}

// holdByNumber returns the hold in force with the number arg.
func (b *Bot) holdByNumber(ctx context.Context, req *request) (retention.Hold, error) {
	n, _ := strconv.ParseInt(req.inv.Args["number"], 10, 64)
	holds, err := b.Store.ActiveHolds(ctx)
	if err != nil {
		return retention.Hold{}, err
	}
	for _, h := range holds {
		if h.ID == n {
			return h, nil
		}
	}
	return retention.Hold{}, errorf("%s", req.t(fmt.Sprintf("Keine Löschsperre %d in Kraft (`!loeschsperre liste`).", n), fmt.Sprintf("No legal hold %d in force (`!hold list`).", n)))
}

func (b *Bot) holdLift(ctx context.Context, req *request) result {
	h, err := b.holdByNumber(ctx, req)
	if err != nil {
		return fail(err)
	}
	ok, err := b.Store.LiftHold(ctx, h.ID, req.msg.Sender, b.now())
	if err != nil {
		return fail(err)
	}
	if !ok {
		return fail(errorf("%s", req.t("Die Löschsperre war schon aufgehoben.", "The legal hold was lifted already.")))
	}
	return result{
		text:   fmt.Sprintf(req.t("Löschsperre %d auf %s aufgehoben.", "Legal hold %d on %s lifted."), h.ID, code(h.Target)),
		detail: fmt.Sprintf("hold %d lifted: %s %s", h.ID, h.Scope, h.Target),
	}
}

func (b *Bot) holdList(ctx context.Context, req *request) result {
	holds, err := b.Store.ActiveHolds(ctx)
	if err != nil {
		return fail(err)
	}
	var s strings.Builder
	n := 0
	for _, h := range holds {
		if t := b.holdTenant(ctx, h); !req.scope.Land && t != req.scope.Tenant {
			continue
		}
		if n == 0 {
			s.WriteString(req.t("**Löschsperren in Kraft**\n\n", "**Legal holds in force**\n\n"))
		}
		n++
		fmt.Fprintf(&s, "- %d: %s %s — %s (%s, %s)\n", h.ID, h.Scope, code(h.Target), code(h.Reason), h.SetBy, h.SetAt.UTC().Format(time.RFC3339))
	}
	if n == 0 {
		return result{text: req.t("Keine Löschsperren in Kraft.", "No legal holds in force.")}
	}
	return result{text: s.String()}
}

// holdTenant is the tenant a hold concerns: the room's, or the person's; ""
// for cross-tenant rooms and unknown people.
func (b *Bot) holdTenant(ctx context.Context, h retention.Hold) config.TenantID {
	if h.Scope == retention.ScopeRoom {
		return tenantOf(provisioning.RoomKey(h.Target))
	}
	people, err := b.people(ctx)
	if err != nil {
		return ""
	}
	for _, p := range people {
		if b.Env.UserID(p) == id.UserID(h.Target) {
			return p.Tenant
		}
	}
	return ""
}

// holdConcerns are the tenants of a hold command, for authorize.
func (b *Bot) holdConcerns(ctx context.Context, req *request) ([]config.TenantID, error) {
	switch req.inv.Spec.Name {
	case "hold lift":
		h, err := b.holdByNumber(ctx, req)
		if err != nil {
			return nil, err
		}
		return []config.TenantID{b.holdTenant(ctx, h)}, nil
	case "hold person":
		p, ok, err := b.personByID(ctx, personID(req.inv.Args["id"]))
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, errorf("%s", req.t("Unbekannte Person "+code(req.inv.Args["id"])+".", "Unknown person "+code(req.inv.Args["id"])+"."))
		}
		return []config.TenantID{p.Tenant}, nil
	}
	return nil, nil
}
