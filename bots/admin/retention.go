package admin

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // times in replies are in the Land's time zone

	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/provisioning"
	"github.com/landesmessenger/landesmessenger/provisioning/override"
	"github.com/landesmessenger/landesmessenger/retention"
	"github.com/landesmessenger/landesmessenger/store"
)

// This file holds the commands about retention: the periods of a room and
// legal holds (Löschsperren), which stop every deletion they cover.

func (b *Bot) retentionShow(ctx context.Context, req *request) result {
	key, err := b.resolveRoom(ctx, req, req.inv.Args["room"])
	if err != nil {
		return fail(err)
	}
	r, err := b.desiredRoom(ctx, req, key)
	if err != nil {
		return fail(err)
	}
	stored, set, err := b.overrides(ctx)
	if err != nil {
		return fail(err)
	}
	cfg := b.Env.Config()
	p := retention.Resolve(&set.ApplyConfig(cfg).Retention, string(key), r.Tenant, r.Class)
	var s strings.Builder
	fmt.Fprintf(&s, "**%s** (`%s`)\n\n", r.State.Name, key)
	fmt.Fprintf(&s, "- %s %s\n", req.t("Aufbewahrung:", "Retention:"), policyText(req, p))
	if o, ok := findOverride(stored, override.KindRetention, string(key)); ok {
		file := retention.Resolve(&cfg.Retention, string(key), r.Tenant, r.Class)
		fmt.Fprintf(&s, req.t("- gesetzt über den Admin-Bot von %s am %s; die Konfiguration sagt %s (`!aufbewahrung zuruecksetzen`)\n",
			"- set through the admin bot by %s on %s; the configuration says %s (`!retention reset`)\n"),
			code(o.CreatedBy), berlinTime(o.CreatedAt), policyText(req, file))
	} else {
		s.WriteString(req.t("- aus der Konfiguration\n", "- from the configuration\n"))
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

// desiredRoom returns the room with key as the next plan wants it.
func (b *Bot) desiredRoom(ctx context.Context, req *request, key provisioning.RoomKey) (*provisioning.Room, error) {
	out, err := b.Env.Plan(ctx)
	if err != nil {
		return nil, err
	}
	r := out.Desired.Rooms[key]
	if r == nil {
		return nil, errorf("%s", req.t("Unbekannter Raum "+code(string(key))+".", "Unknown room "+code(string(key))+"."))
	}
	return r, nil
}

// policyText describes a room's policy in a reply.
func policyText(req *request, p retention.Policy) string {
	if p.IsZero() {
		return req.t("unbefristet (keine Löschfrist)", "kept for ever (no deletion period)")
	}
	return code(p.String())
}

// berlin is the time zone of the times in replies.
var berlin = func() *time.Location {
	if loc, err := time.LoadLocation("Europe/Berlin"); err == nil {
		return loc
	}
	return time.UTC
}()

// berlinTime formats t for a reply, in Europe/Berlin.
func berlinTime(t time.Time) string { return t.In(berlin).Format("2006-01-02 15:04:05 MST") }

// overrides returns the stored overrides and the set they make, as the
// next plan reads them (records it cannot read the plan logs and skips).
func (b *Bot) overrides(ctx context.Context) ([]store.Override, *override.Set, error) {
	stored, err := b.Store.Overrides(ctx)
	if err != nil {
		return nil, nil, err
	}
	records := make([]override.Record, len(stored))
	for i, o := range stored {
		records[i] = override.Record{Kind: o.Kind, Key: o.Key, Value: o.Value}
	}
	set, _ := override.Parse(records)
	return stored, set, nil
}

// findOverride returns the override of kind and key among stored.
func findOverride(stored []store.Override, kind, key string) (store.Override, bool) {
	for _, o := range stored {
		if o.Kind == kind && o.Key == key {
			return o, true
		}
	}
	return store.Override{}, false
}

// roomRetention is the change of a room's retention a `retention set` or
// `retention reset` makes.
type roomRetention struct {
	key provisioning.RoomKey
	// value is the override's max_lifetime, "" for a reset.
	value    string
	old, new retention.Policy
}

// retentionChange works out what a `retention set` or `retention reset`
// changes. It refuses a period outside the configuration's bounds or below
// the room's minimum, and a reset of a room whose period is the
// configuration's.
func (b *Bot) retentionChange(ctx context.Context, req *request) (*roomRetention, error) {
	key, err := b.resolveRoom(ctx, req, req.inv.Args["room"])
	if err != nil {
		return nil, err
	}
	r, err := b.desiredRoom(ctx, req, key)
	if err != nil {
		return nil, err
	}
	_, set, err := b.overrides(ctx)
	if err != nil {
		return nil, err
	}
	cfg := b.Env.Config()
	policy := func() retention.Policy {
		return retention.Resolve(&set.ApplyConfig(cfg).Retention, string(key), r.Tenant, r.Class)
	}
	ch := &roomRetention{key: key, old: policy()}
	if req.inv.Spec.Name == "retention reset" {
		if _, ok := set.Retention[key]; !ok {
			return nil, errorf("%s", req.t("Für "+code(string(key))+" gilt schon die Frist der Konfiguration: "+policyText(req, ch.old)+".",
				code(string(key))+" has the configuration's period already: "+policyText(req, ch.old)+"."))
		}
		delete(set.Retention, key)
		ch.new = policy()
		return ch, nil
	}
	arg := req.inv.Options["max"]
	longest, err := parseLifetime(arg)
	if err != nil {
		return nil, errorf("%s", req.t(code(arg)+" ist keine gültige Frist: erwartet z. B. `30d` (Tage), `720h` (Stunden) oder `unbegrenzt`.",
			code(arg)+" is no valid period: expected e.g. `30d` (days), `720h` (hours) or `forever`."))
	}
	if bounds := cfg.Retention.Bounds; !bounds.Allows(longest) {
		return nil, errorf("%s", req.t("Die Frist "+lifetimeText(req, longest)+" liegt außerhalb der Grenzen der Konfiguration (`retention.bounds`): erlaubt ist "+boundsText(req, bounds)+".",
			"The period "+lifetimeText(req, longest)+" is outside the configuration's bounds (`retention.bounds`): allowed is "+boundsText(req, bounds)+"."))
	}
	file := retention.Resolve(&cfg.Retention, string(key), r.Tenant, r.Class)
	if longest != 0 && longest < file.Min {
		least := code(config.FormatLifetime(file.Min))
		return nil, errorf("%s", req.t("Die Frist "+lifetimeText(req, longest)+" liegt unter der Mindestfrist des Raums: die Konfiguration verlangt, Nachrichten mindestens "+least+" aufzubewahren (`min_lifetime`). Wähle "+least+" oder mehr.",
			"The period "+lifetimeText(req, longest)+" is below the room's minimum: the configuration keeps messages at least "+least+" (`min_lifetime`). Choose "+least+" or more."))
	}
	set.Retention[key] = longest
	ch.value = config.FormatLifetime(longest)
	ch.new = policy()
	return ch, nil
}

// describe says what the change does, for the prompt and the reply.
func (ch *roomRetention) describe(req *request) string {
	s := fmt.Sprintf(req.t("Aufbewahrung von %s: bisher %s, künftig %s.", "Retention of %s: until now %s, from now on %s."),
		code(string(ch.key)), policyText(req, ch.old), policyText(req, ch.new))
	if ch.new.Max != 0 && (ch.old.Max == 0 || ch.new.Max < ch.old.Max) {
		s += " " + fmt.Sprintf(req.t("Nachrichten, die älter sind als %s, werden beim nächsten Löschlauf gelöscht, außer unter einer Löschsperre.",
			"Messages older than %s are deleted in the next retention run, except under a legal hold."), code(config.FormatLifetime(ch.new.Max)))
	}
	return s
}

// retentionSet carries out `retention set` and `retention reset`: it keeps
// the room's period as an override, or removes it, and applies.
func (b *Bot) retentionSet(ctx context.Context, req *request) result {
	ch, err := b.retentionChange(ctx, req)
	if err != nil {
		return fail(err)
	}
	var r result
	if ch.value == "" {
		if err := b.Store.DeleteOverride(ctx, override.KindRetention, string(ch.key)); err != nil {
			return fail(err)
		}
		r = b.apply(ctx, req, fmt.Sprintf("override %s %s removed", override.KindRetention, ch.key))
	} else {
		r = b.saveOverride(ctx, req, override.KindRetention, string(ch.key), override.Retention{MaxLifetime: ch.value})
	}
	r.detail = fmt.Sprintf("retention of %s: %s -> %s; %s", ch.key, ch.old, ch.new, r.detail)
	if r.err == nil {
		r.text = ch.describe(req) + "\n\n" + r.text
	}
	return r
}

// parseLifetime parses a period as admins write it: 30d, 720h, forever or
// unbegrenzt.
func parseLifetime(s string) (time.Duration, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "unbegrenzt" {
		s = config.Forever
	}
	return config.ParseLifetime(s, true)
}

// lifetimeText quotes a period for a reply; 0 is unbegrenzt (forever).
func lifetimeText(req *request, d time.Duration) string {
	if d == 0 {
		return code(req.t("unbegrenzt", config.Forever))
	}
	return code(config.FormatLifetime(d))
}

// boundsText describes the periods the bounds allow.
func boundsText(req *request, b config.RetentionBounds) string {
	if b.Max == 0 {
		return fmt.Sprintf(req.t("ab %s, auch %s", "from %s up, or %s"), lifetimeText(req, b.Min), lifetimeText(req, 0))
	}
	return fmt.Sprintf(req.t("%s bis %s", "%s to %s"), lifetimeText(req, b.Min), lifetimeText(req, b.Max))
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
	if !req.scope.Land {
		h.SetScope = string(req.scope.Tenant)
	}
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
		// Lifted only from the scope that set it (a Land hold only in the
		// Land admin room), never by the person it concerns; asked of the
		// issuer and of a confirming second admin (issue 14, finding 8).
		h, err := b.holdByNumber(ctx, req)
		if err != nil {
			return nil, err
		}
		if h.Scope == retention.ScopePerson && id.UserID(h.Target) == req.msg.Sender {
			return nil, errorf("%s", req.t("Eine Löschsperre auf die eigene Person kann man nicht aufheben (oder bestätigen).",
				"Nobody may lift (or confirm lifting) a legal hold on themselves."))
		}
		switch {
		case h.SetScope == "" && !req.scope.Land:
			return nil, errorf("%s", req.t(fmt.Sprintf("Löschsperre %d wurde im Landes-Verwaltungsraum gesetzt; nur dort kann sie aufgehoben werden.", h.ID),
				fmt.Sprintf("Legal hold %d was set in the Land admin room; it can be lifted there only.", h.ID)))
		case h.SetScope != "" && (req.scope.Land || string(req.scope.Tenant) != h.SetScope):
			return nil, errorf("%s", req.t(fmt.Sprintf("Löschsperre %d wurde im Verwaltungsraum von %s gesetzt; nur dort kann sie aufgehoben werden.", h.ID, code(h.SetScope)),
				fmt.Sprintf("Legal hold %d was set in the management room of %s; it can be lifted there only.", h.ID, code(h.SetScope))))
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

// The bounds of `deletionlog`.
const (
	deletionLogDefault = 20
	deletionLogMax     = 100
)

// deletionLog shows the newest entries of the deletion log: of one room,
// or of every room the management room's scope covers. It never shows
// content; the log holds none.
func (b *Bot) deletionLog(ctx context.Context, req *request) result {
	n := deletionLogDefault
	if c := req.inv.Options["count"]; c != "" {
		n, _ = strconv.Atoi(c)
	}
	capped := n > deletionLogMax
	n = min(n, deletionLogMax)
	var entries []store.Deletion
	var err error
	switch room := req.inv.Args["room"]; {
	case room != "":
		var key provisioning.RoomKey
		if key, err = b.resolveRoom(ctx, req, room); err == nil {
			entries, err = b.Store.DeletionLog(ctx, store.DeletionFilter{RoomKey: string(key), Limit: n})
		}
	case req.scope.Land:
		entries, err = b.Store.DeletionLog(ctx, store.DeletionFilter{Limit: n})
	default:
		entries, err = b.tenantDeletions(ctx, req.scope.Tenant, n)
	}
	if err != nil {
		return fail(err)
	}
	if len(entries) == 0 {
		return result{text: req.t("Keine Einträge im Löschprotokoll.", "No entries in the deletion log.")}
	}
	var s strings.Builder
	fmt.Fprintf(&s, req.t("**Löschprotokoll**, neueste Einträge: %d (Zeiten in Europe/Berlin)", "**Deletion log**, newest entries: %d (times in Europe/Berlin)"), len(entries))
	if capped {
		fmt.Fprintf(&s, req.t("; höchstens %d auf einmal, alle: `landesmessenger retention log`", "; at most %d at a time, all: `landesmessenger retention log`"), deletionLogMax)
	}
	s.WriteString("\n\n")
	for _, d := range entries {
		fmt.Fprintf(&s, req.t("- %s: %s %s von %s, gesendet %s; Frist %s; %s\n", "- %s: %s %s by %s, sent %s; policy %s; %s\n"),
			berlinTime(d.At), code(d.RoomKey), code(string(d.EventID)), code(string(d.Sender)), berlinTime(d.SentAt), code(d.Policy), d.Method)
	}
	return result{text: s.String()}
}

// tenantDeletions returns the newest n entries of the deletion log in the
// rooms of tenant, oldest first. The log knows rooms, not tenants: it is
// read room by room, for every room provisioning ever made for the tenant.
func (b *Bot) tenantDeletions(ctx context.Context, tenant config.TenantID, n int) ([]store.Deletion, error) {
	rooms, err := b.Store.Rooms(ctx)
	if err != nil {
		return nil, err
	}
	var out []store.Deletion
	for _, r := range rooms {
		if tenantOf(provisioning.RoomKey(r.Key)) != tenant {
			continue
		}
		entries, err := b.Store.DeletionLog(ctx, store.DeletionFilter{RoomKey: r.Key, Limit: n})
		if err != nil {
			return nil, err
		}
		out = append(out, entries...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out[max(0, len(out)-n):], nil
}

// marksPending lists the marks for filing not filed yet, in one room or in
// every room the scope covers (issue 14, finding 14).
func (b *Bot) marksPending(ctx context.Context, req *request) result {
	rooms, err := b.Store.Rooms(ctx)
	if err != nil {
		return fail(err)
	}
	keyOf := map[id.RoomID]provisioning.RoomKey{}
	for _, r := range rooms {
		keyOf[id.RoomID(r.RoomID)] = provisioning.RoomKey(r.Key)
	}
	var only provisioning.RoomKey
	if arg := req.inv.Args["room"]; arg != "" {
		if only, err = b.resolveRoom(ctx, req, arg); err != nil {
			return fail(err)
		}
	}
	marks, err := b.Store.PendingMarks(ctx)
	if err != nil {
		return fail(err)
	}
	after := b.Env.Config().Records.UnfiledAfter
	now := b.now()
	var s strings.Builder
	n := 0
	for _, m := range marks {
		key := keyOf[m.Room]
		if only != "" && key != only || !req.scope.Land && tenantOf(key) != req.scope.Tenant {
			continue
		}
		if n == 0 {
			s.WriteString(req.t("**Offene Markierungen zur Aktenablage**\n\n", "**Pending marks for filing**\n\n"))
		}
		n++
		why := m.Problem
		if why == "" && m.Case == "" {
			why = req.t("kein Aktenzeichen", "no case reference")
		}
		keeps := req.t(fmt.Sprintf("hält die Nachricht bis %s", berlinTime(m.MarkedAt.Add(after))), fmt.Sprintf("keeps the message until %s", berlinTime(m.MarkedAt.Add(after))))
		if !m.Keeps(now, after) {
			keeps = req.t("hält die Nachricht nicht mehr", "no longer keeps the message")
		}
		fmt.Fprintf(&s, "- %s %s → %s, %s %s, %s; %s\n", code(string(key)), code(string(m.MarkEvent)), code(string(m.Target)),
			code(string(m.MarkedBy)), berlinTime(m.MarkedAt), code(why), keeps)
	}
	if n == 0 {
		return result{text: req.t("Keine offenen Markierungen.", "No pending marks.")}
	}
	return result{text: s.String()}
}

// marksClear clears a pending mark: it is not filed and keeps nothing.
func (b *Bot) marksClear(ctx context.Context, req *request) result {
	key, err := b.resolveRoom(ctx, req, req.inv.Args["room"])
	if err != nil {
		return fail(err)
	}
	rooms, err := b.Store.Rooms(ctx)
	if err != nil {
		return fail(err)
	}
	ev := id.EventID(strings.TrimSpace(req.inv.Args["event"]))
	for _, r := range rooms {
		if provisioning.RoomKey(r.Key) != key {
			continue
		}
		ok, err := b.Store.ClearMark(ctx, id.RoomID(r.RoomID), ev, req.msg.Sender, b.now())
		if err != nil {
			return fail(err)
		}
		if !ok {
			return fail(errorf("%s", req.t("Keine offene Markierung "+code(string(ev))+" in "+code(string(key))+" (`!ablage offen`).",
				"No pending mark "+code(string(ev))+" in "+code(string(key))+" (`!marks pending`).")))
		}
		return result{
			text:   req.t("Markierung "+code(string(ev))+" in "+code(string(key))+" verworfen: sie wird nicht abgelegt und hält die Nachricht nicht mehr.", "Mark "+code(string(ev))+" in "+code(string(key))+" cleared: it is not filed and no longer keeps the message."),
			detail: fmt.Sprintf("mark %s in %s cleared", ev, key),
		}
	}
	return fail(errorf("%s", req.t("Unbekannter Raum "+code(string(key))+".", "Unknown room "+code(string(key))+".")))
}
