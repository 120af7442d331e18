package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/bots/command"
	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/provisioning"
	"github.com/landesmessenger/landesmessenger/provisioning/override"
	"github.com/landesmessenger/landesmessenger/store"
)

// result is what a command did: the reply, the detail for the audit trail,
// and an error (a *userError is shown as it is; others are logged and
// answered with a general message).
type result struct {
	text, detail string
	err          error
}

func fail(err error) result {
	var ue *userError
	if errors.As(err, &ue) {
		return result{text: ue.msg, err: err}
	}
	return result{err: err}
}

// execute runs an authorized command.
func (b *Bot) execute(ctx context.Context, req *request) result {
	a := req.inv.Args
	switch req.inv.Spec.Name {
	case "help":
		text, err := command.Help(req.lang, strings.Fields(a["command"])...)
		if err != nil {
			return fail(errorf("%s", err.Error()))
		}
		return result{text: text}
	case "status":
		return b.status(ctx, req)
	case "tenant list":
		return b.tenantList(req)
	case "tenant show":
		return b.tenantShow(ctx, req, config.TenantID(a["tenant"]))
	case "user show":
		return b.userShow(ctx, req, personID(a["id"]))
	case "user add":
		return b.userAdd(ctx, req)
	case "user move":
		return b.userMove(ctx, req)
	case "user disable", "user enable":
		return b.userDisable(ctx, req, req.inv.Spec.Name == "user disable")
	case "role grant", "role revoke":
		return b.role(ctx, req)
	case "room show":
		return b.roomShow(ctx, req)
	case "room create":
		return b.roomCreate(ctx, req)
	case "room close":
		return b.roomClose(ctx, req)
	case "member add", "member remove":
		return b.member(ctx, req, req.inv.Spec.Name == "member add")
	case "retention show":
		return b.retentionShow(ctx, req)
	case "retention set", "retention reset":
		return b.retentionSet(ctx, req)
	case "deletionlog":
		return b.deletionLog(ctx, req)
	case "hold room", "hold person":
		return b.holdSet(ctx, req)
	case "hold lift":
		return b.holdLift(ctx, req)
	case "hold list":
		return b.holdList(ctx, req)
	case "marks pending":
		return b.marksPending(ctx, req)
	case "marks clear":
		return b.marksClear(ctx, req)
	case "federation show":
		return b.federationShow(req)
	case "plan":
		return b.plan(ctx, req)
	case "audit":
		return b.auditShow(ctx, req)
	case "guest invite":
		return b.guestInvite(ctx, req)
	case "guest extend":
		return b.guestExtend(ctx, req)
	case "guest list":
		return b.guestList(ctx, req)
	case "guest remove":
		return b.guestRemove(ctx, req)
	}
	return fail(errorf("%s", req.t("Dieser Befehl ist noch nicht verfügbar.", "This command is not available yet.")))
}

// personID accepts a directory id or a Matrix ID (its localpart).
func personID(arg string) string {
	if strings.HasPrefix(arg, "@") {
		if local, _, err := id.UserID(arg).Parse(); err == nil {
			return local
		}
	}
	return strings.ToLower(arg)
}

func (b *Bot) status(ctx context.Context, req *request) result {
	st := b.Env.Status(ctx)
	var s strings.Builder
	fmt.Fprintf(&s, "**Landesmessenger %s**\n\n", st.Version)
	fmt.Fprintf(&s, "- %s %s\n", req.t("Homeserver:", "Homeservers:"), strings.Join(st.Homeservers, ", "))
	if !st.LastReconcile.IsZero() {
		fmt.Fprintf(&s, "- %s %s (%s)\n", req.t("Letzter Abgleich:", "Last reconcile:"), st.LastReconcile.UTC().Format(time.RFC3339), st.LastReconcileText)
	}
	if l := b.Env.Federation(); l != nil {
		fmt.Fprintf(&s, "- %s %d, %s %s\n", req.t("Föderationsliste Version", "Federation list version"), l.Version,
			req.t("gültig bis", "valid until"), l.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if len(st.Problems) == 0 {
		fmt.Fprintf(&s, "- %s\n", req.t("Keine Probleme.", "No problems."))
	} else {
		fmt.Fprintf(&s, "- ⚠️ %s\n", req.t("Sicherheitsmodus (Änderungen gesperrt):", "Safe mode (changes blocked):"))
		for _, p := range st.Problems {
			fmt.Fprintf(&s, "  - %s\n", p)
		}
	}
	return result{text: s.String()}
}

func (b *Bot) tenantList(req *request) result {
	cfg := b.Env.Config()
	var s strings.Builder
	s.WriteString(req.t("**Mandanten**\n\n", "**Tenants**\n\n"))
	for _, t := range cfg.Tenants {
		if !req.scope.Land && t.ID != req.scope.Tenant {
			continue
		}
		fmt.Fprintf(&s, "- `%s` %s (%s, %s %s)\n", t.ID, t.Name, t.Kind, req.t("Homeserver", "homeserver"), t.Homeserver)
	}
	return result{text: s.String()}
}

func (b *Bot) tenantShow(ctx context.Context, req *request, tid config.TenantID) result {
	cfg := b.Env.Config()
	t, ok := cfg.Tenant(tid)
	if !ok {
		return fail(errorf("%s", req.t("Unbekannter Mandant "+code(string(tid))+".", "Unknown tenant "+code(string(tid))+".")))
	}
	people, err := b.people(ctx)
	if err != nil {
		return fail(err)
	}
	count, admins := 0, []string{}
	byUnit := map[config.UnitID]int{}
	for _, p := range people {
		if p.Tenant != tid {
			continue
		}
		count++
		byUnit[p.Unit]++
		if p.Role == provisioning.RoleAdmin {
			admins = append(admins, string(p.ID))
		}
	}
	var s strings.Builder
	fmt.Fprintf(&s, "**%s** (`%s`, %s)\n\n", t.Name, t.ID, t.Kind)
	fmt.Fprintf(&s, "- %s %s\n", req.t("Homeserver:", "Homeserver:"), t.Homeserver)
	fmt.Fprintf(&s, "- %s %d\n", req.t("Personen:", "People:"), count)
	fmt.Fprintf(&s, "- %s %s\n", req.t("Administratoren:", "Admins:"), strings.Join(admins, ", "))
	for _, u := range t.Units {
		fmt.Fprintf(&s, "- %s `%s` %s: %d\n", req.t("Einheit", "Unit"), u.ID, u.Name, byUnit[u.ID])
	}
	for _, r := range t.Rooms {
		fmt.Fprintf(&s, "- %s `%s/%s` %s (%s)\n", req.t("Raum", "Room"), t.ID, r.ID, r.Name, r.Class)
	}
	return result{text: s.String()}
}

func (b *Bot) userShow(ctx context.Context, req *request, pid string) result {
	p, ok, err := b.personByID(ctx, pid)
	if err != nil {
		return fail(err)
	}
	if !ok {
		return fail(errorf("%s", req.t("Unbekannte Person "+code(pid)+".", "Unknown person "+code(pid)+".")))
	}
	out, err := b.Env.Plan(ctx)
	if err != nil {
		return fail(err)
	}
	uid := b.Env.UserID(p)
	var s strings.Builder
	fmt.Fprintf(&s, "**%s** (`%s`)\n\n", p.DisplayName, uid)
	fmt.Fprintf(&s, "- %s `%s`, %s `%s`, %s %s\n", req.t("Mandant", "Tenant"), p.Tenant, req.t("Einheit", "unit"), orDash(string(p.Unit)), req.t("Rolle", "role"), p.Role)
	status := req.t("noch nicht angelegt", "not created yet")
	if c := out.Current.Accounts[uid]; c != nil {
		status = string(c.Status)
	}
	if p.Disabled {
		status += req.t(" (gesperrt)", " (disabled)")
	}
	fmt.Fprintf(&s, "- %s %s\n", req.t("Konto:", "Account:"), status)
	var rooms []string
	for key, r := range out.Current.Rooms {
		if r.Members[uid] == "join" {
			rooms = append(rooms, string(key))
		}
	}
	sort.Strings(rooms)
	fmt.Fprintf(&s, "- %s %s\n", req.t("Räume:", "Rooms:"), orDash(strings.Join(rooms, ", ")))
	return result{text: s.String()}
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// saveOverride keeps a change and carries it out at once.
func (b *Bot) saveOverride(ctx context.Context, req *request, kind, key string, value any) result {
	data, err := json.Marshal(value)
	if err != nil {
		return fail(err)
	}
	if err := b.Store.SaveOverride(ctx, store.Override{Kind: kind, Key: key, Value: string(data), CreatedBy: string(req.msg.Sender), CreatedAt: b.now(), AuditID: req.audit}); err != nil {
		return fail(err)
	}
	return b.apply(ctx, req, fmt.Sprintf("override %s %s = %s", kind, key, data))
}

// apply plans and applies, and reports what changed.
func (b *Bot) apply(ctx context.Context, req *request, what string) result {
	out, res, err := b.Env.Apply(ctx)
	if err != nil {
		var mass *provisioning.MassRemovalError
		if errors.As(err, &mass) {
			return result{text: req.t("Gespeichert, aber nicht angewendet: ", "Saved, but not applied: ") + err.Error(), detail: what, err: errorf("%s", err.Error())}
		}
		return result{detail: what, err: err}
	}
	var s strings.Builder
	if res == nil {
		s.WriteString(req.t("Erledigt; am Homeserver war nichts zu ändern.", "Done; nothing to change on the homeservers."))
		return result{text: s.String(), detail: what + "; in sync"}
	}
	fmt.Fprintf(&s, req.t("Erledigt: %d von %d Änderungen angewendet", "Done: applied %d of %d changes"), res.Done, res.Done+res.Failed)
	if res.Failed > 0 {
		fmt.Fprintf(&s, req.t(", %d fehlgeschlagen (der nächste Abgleich versucht es erneut)", ", %d failed (the next reconcile retries)"), res.Failed)
	}
	s.WriteString(".\n\n")
	lines := make([]string, 0, len(out.Plan.Actions))
	for _, a := range out.Plan.Actions {
		lines = append(lines, provisioning.Symbol(a)+" "+provisioning.Describe(a))
	}
	for i, l := range lines {
		if i == 15 {
			fmt.Fprintf(&s, req.t("- … und %d weitere\n", "- … and %d more\n"), len(lines)-15)
			break
		}
		s.WriteString("- " + l + "\n")
	}
	detail := fmt.Sprintf("%s; applied %d, failed %d: %s", what, res.Done, res.Failed, strings.Join(lines, "; "))
	if len(detail) > 4000 {
		detail = detail[:4000] + "…"
	}
	r := result{text: s.String(), detail: detail}
	if res.Failed > 0 && res.Done == 0 {
		r.err = fmt.Errorf("every action failed")
	}
	return r
}

// personOverride returns the stored override of pid, to change a field.
func (b *Bot) personOverride(ctx context.Context, pid string) (override.Person, error) {
	all, err := b.Store.Overrides(ctx)
	if err != nil {
		return override.Person{}, err
	}
	var p override.Person
	if o, ok := findOverride(all, override.KindPerson, pid); ok {
		if err := json.Unmarshal([]byte(o.Value), &p); err != nil {
			return override.Person{}, err
		}
	}
	return p, nil
}

func (b *Bot) checkUnit(req *request, tid config.TenantID, unit string) error {
	t, ok := b.Env.Config().Tenant(tid)
	if !ok {
		return errorf("%s", req.t("Unbekannter Mandant "+code(string(tid))+".", "Unknown tenant "+code(string(tid))+"."))
	}
	if unit == "" {
		return nil
	}
	if _, ok := t.Unit(config.UnitID(unit)); !ok {
		var ids []string
		for _, u := range t.Units {
			ids = append(ids, string(u.ID))
		}
		return errorf("%s", req.t("Mandant "+code(string(tid))+" hat keine Einheit "+code(unit)+" (vorhanden: "+strings.Join(ids, ", ")+").",
			"Tenant "+code(string(tid))+" has no unit "+code(unit)+" (configured: "+strings.Join(ids, ", ")+")."))
	}
	return nil
}

func (b *Bot) userAdd(ctx context.Context, req *request) result {
	a, o := req.inv.Args, req.inv.Options
	pid := personID(a["id"])
	if _, ok, err := b.personByID(ctx, pid); err != nil {
		return fail(err)
	} else if ok {
		return fail(errorf("%s", req.t("Die Kennung "+code(pid)+" gibt es schon.", "The id "+code(pid)+" exists already.")))
	}
	// Roles come only from the configuration and the directory: a person
	// added under an id the configuration makes a Land admin or auditor
	// would take that role.
	if adm := &b.Env.Config().Admin; adm.IsLandAdmin(pid) || adm.IsAuditor(pid) {
		return fail(errorf("%s", req.t("Die Kennung "+code(pid)+" ist in der Konfiguration als Land-Administrator oder Auditor eingetragen; solche Personen kommen nur aus dem Verzeichnis.",
			"The id "+code(pid)+" is configured as a Land admin or auditor; such people come only from the directory.")))
	}
	tid := config.TenantID(a["tenant"])
	if err := b.checkUnit(req, tid, o["unit"]); err != nil {
		return fail(err)
	}
	p := override.Person{GivenName: a["given"], Surname: a["surname"], Tenant: string(tid), Unit: o["unit"], Role: o["role"]}
	return b.saveOverride(ctx, req, override.KindPerson, pid, p)
}

func (b *Bot) userMove(ctx context.Context, req *request) result {
	a, o := req.inv.Args, req.inv.Options
	pid := personID(a["id"])
	if _, ok, err := b.personByID(ctx, pid); err != nil {
		return fail(err)
	} else if !ok {
		return fail(errorf("%s", req.t("Unbekannte Person "+code(pid)+".", "Unknown person "+code(pid)+".")))
	}
	tid := config.TenantID(a["tenant"])
	if err := b.checkUnit(req, tid, o["unit"]); err != nil {
		return fail(err)
	}
	p, err := b.personOverride(ctx, pid)
	if err != nil {
		return fail(err)
	}
	p.Tenant, p.Unit = string(tid), o["unit"]
	if p.Unit == "" {
		p.Unit = override.NoUnit
	}
	return b.saveOverride(ctx, req, override.KindPerson, pid, p)
}

func (b *Bot) userDisable(ctx context.Context, req *request, disable bool) result {
	pid := personID(req.inv.Args["id"])
	if disable && pid == string(req.actor.Person.ID) {
		return fail(errorf("%s", req.t("Du kannst dich nicht selbst sperren.", "You cannot disable yourself.")))
	}
	if _, ok, err := b.personByID(ctx, pid); err != nil {
		return fail(err)
	} else if !ok {
		return fail(errorf("%s", req.t("Unbekannte Person "+code(pid)+".", "Unknown person "+code(pid)+".")))
	}
	p, err := b.personOverride(ctx, pid)
	if err != nil {
		return fail(err)
	}
	p.Disabled = disable
	r := b.saveOverride(ctx, req, override.KindPerson, pid, p)
	if reason := req.inv.Options["reason"]; reason != "" {
		r.detail = "reason: " + reason + "; " + r.detail
	}
	if !disable && r.err == nil {
		r.text += "\n\n" + req.t("Das neue Anfangspasswort steht in der Zugangsdatei des Dienstes (nicht im Chat).",
			"The new initial password is in the service's credentials file (not in chat).")
	}
	return r
}

func (b *Bot) role(ctx context.Context, req *request) result {
	pid := personID(req.inv.Args["id"])
	person, ok, err := b.personByID(ctx, pid)
	if err != nil {
		return fail(err)
	} else if !ok {
		return fail(errorf("%s", req.t("Unbekannte Person "+code(pid)+".", "Unknown person "+code(pid)+".")))
	}
	role := string(provisioning.RoleMember)
	if req.inv.Spec.Name == "role grant" {
		role = req.inv.Args["role"]
	} else if pid == string(req.actor.Person.ID) {
		return fail(errorf("%s", req.t("Du kannst dir die Rolle nicht selbst entziehen.", "You cannot revoke your own role.")))
	}
	if string(person.Role) == role {
		return result{text: req.t(code(pid)+" hat diese Rolle schon.", code(pid)+" has this role already.")}
	}
	p, err := b.personOverride(ctx, pid)
	if err != nil {
		return fail(err)
	}
	p.Role = role
	return b.saveOverride(ctx, req, override.KindPerson, pid, p)
}

// resolveRoom returns the key of a room argument, also for room IDs.
func (b *Bot) resolveRoom(ctx context.Context, req *request, arg string) (provisioning.RoomKey, error) {
	if strings.HasPrefix(arg, "!") {
		rooms, err := b.Store.Rooms(ctx)
		if err != nil {
			return "", err
		}
		for _, r := range rooms {
			if r.RoomID == arg {
				return provisioning.RoomKey(r.Key), nil
			}
		}
		return "", errorf("%s", req.t("Raum "+code(arg)+" wird nicht vom Landesmessenger verwaltet.", "Room "+code(arg)+" is not managed by Landesmessenger."))
	}
	return b.roomKey(req, arg)
}

func (b *Bot) roomShow(ctx context.Context, req *request) result {
	key, err := b.resolveRoom(ctx, req, req.inv.Args["room"])
	if err != nil {
		return fail(err)
	}
	out, err := b.Env.Plan(ctx)
	if err != nil {
		return fail(err)
	}
	want, cur := out.Desired.Rooms[key], out.Current.Rooms[key]
	if want == nil && cur == nil {
		return fail(errorf("%s", req.t("Unbekannter Raum "+code(string(key))+".", "Unknown room "+code(string(key))+".")))
	}
	var s strings.Builder
	name := string(key)
	if want != nil {
		name = want.State.Name
	} else if cur != nil {
		name = cur.State.Name
	}
	fmt.Fprintf(&s, "**%s** (`%s`)\n\n", name, key)
	if want != nil {
		fmt.Fprintf(&s, "- %s %s, %s %s\n", req.t("Klasse", "Class"), want.Class, req.t("Homeserver", "homeserver"), want.Homeserver)
		fmt.Fprintf(&s, "- %s %d\n", req.t("Soll-Mitglieder:", "Members wanted:"), len(want.Members))
	} else {
		s.WriteString(req.t("- nicht mehr in der Konfiguration (wird geschlossen)\n", "- no longer configured (to be closed)\n"))
	}
	if cur != nil {
		joined := 0
		for _, m := range cur.Members {
			if m == "join" {
				joined++
			}
		}
		fmt.Fprintf(&s, "- %s `%s`, %s %d\n", req.t("Raum-ID", "Room ID"), cur.ID, req.t("beigetreten:", "joined:"), joined)
		if acl := cur.State.ServerACL; acl != nil {
			fmt.Fprintf(&s, "- %s %s\n", req.t("Server-ACL erlaubt:", "Server ACL allows:"), strings.Join(acl.Allow, ", "))
		}
		if cur.State.Encryption != "" {
			s.WriteString(req.t("- verschlüsselt\n", "- encrypted\n"))
		}
	} else {
		s.WriteString(req.t("- noch nicht angelegt\n", "- not created yet\n"))
	}
	return result{text: s.String()}
}

func (b *Bot) roomCreate(ctx context.Context, req *request) result {
	a, o := req.inv.Args, req.inv.Options
	tid := config.TenantID(a["tenant"])
	t, ok := b.Env.Config().Tenant(tid)
	if !ok {
		return fail(errorf("%s", req.t("Unbekannter Mandant "+code(string(tid))+".", "Unknown tenant "+code(string(tid))+".")))
	}
	rid := config.RoomID(a["roomid"])
	if rid.Reserved() {
		return fail(errorf("%s", req.t("Die Raumkennung "+code(string(rid))+" ist für die Standardräume reserviert.", "The room id "+code(string(rid))+" is reserved for the default rooms.")))
	}
	key := provisioning.TenantRoomKey(tid, string(rid))
	if _, exists := t.Room(rid); exists {
		return fail(errorf("%s", req.t("Den Raum "+code(string(key))+" gibt es schon.", "Room "+code(string(key))+" exists already.")))
	}
	room := override.Room{Created: true, Name: a["name"], Class: config.RoomClass(o["class"]), Audience: config.Audience(o["audience"])}
	return b.saveOverride(ctx, req, override.KindRoom, string(key), room)
}

// protectedRoom reports rooms the bot must not close: default rooms and
// management rooms.
func protectedRoom(key provisioning.RoomKey) bool {
	_, room, _ := strings.Cut(string(key), "/")
	return config.RoomID(room).Reserved()
}

func (b *Bot) roomClose(ctx context.Context, req *request) result {
	key, err := b.resolveRoom(ctx, req, req.inv.Args["room"])
	if err != nil {
		return fail(err)
	}
	if protectedRoom(key) {
		return fail(errorf("%s", req.t("Standard- und Verwaltungsräume werden mit ihrem Mandanten geschlossen, nicht einzeln.", "Default and management rooms close with their tenant, not one by one.")))
	}
	out, err := b.Env.Plan(ctx)
	if err != nil {
		return fail(err)
	}
	if _, ok := out.Desired.Rooms[key]; !ok {
		return fail(errorf("%s", req.t("Unbekannter Raum "+code(string(key))+".", "Unknown room "+code(string(key))+".")))
	}
	var prev override.Room
	if all, err := b.Store.Overrides(ctx); err == nil {
		if o, ok := findOverride(all, override.KindRoom, string(key)); ok {
			_ = json.Unmarshal([]byte(o.Value), &prev)
		}
	}
	prev.Closed = true
	return b.saveOverride(ctx, req, override.KindRoom, string(key), prev)
}

func (b *Bot) member(ctx context.Context, req *request, add bool) result {
	key, err := b.resolveRoom(ctx, req, req.inv.Args["room"])
	if err != nil {
		return fail(err)
	}
	pid := personID(req.inv.Args["id"])
	p, ok, err := b.personByID(ctx, pid)
	if err != nil {
		return fail(err)
	} else if !ok {
		return fail(errorf("%s", req.t("Unbekannte Person "+code(pid)+".", "Unknown person "+code(pid)+".")))
	}
	out, err := b.Env.Plan(ctx)
	if err != nil {
		return fail(err)
	}
	r := out.Desired.Rooms[key]
	if r == nil {
		return fail(errorf("%s", req.t("Unbekannter Raum "+code(string(key))+".", "Unknown room "+code(string(key))+".")))
	}
	if add {
		switch {
		case r.Class == config.ClassInternal && p.Tenant != r.Tenant:
			return fail(errorf("%s", req.t("Der Raum ist intern: nur Personen von "+code(string(r.Tenant))+" dürfen hinein.", "The room is internal: only people of "+code(string(r.Tenant))+" may join.")))
		case !admitted(r, b.Env.UserID(p)):
			return fail(errorf("%s", req.t("Der Homeserver dieser Person ist im Raum nicht zugelassen (Föderationsliste oder Server-ACL).", "This person's homeserver is not admitted to the room (federation list or server ACL).")))
		}
	}
	return b.saveOverride(ctx, req, override.KindMember, override.MemberKey(key, provisioning.PersonID(pid)), override.Member{Present: add})
}

// admitted reports whether the server ACL r should have lets user's
// homeserver in.
func admitted(r *provisioning.Room, user id.UserID) bool {
	acl := r.State.ServerACL
	if acl == nil {
		return true
	}
	host := user.Homeserver()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if slices.Contains(acl.Deny, host) {
		return false
	}
	return slices.Contains(acl.Allow, "*") || slices.Contains(acl.Allow, host)
}

func (b *Bot) federationShow(req *request) result {
	l := b.Env.Federation()
	if l == nil {
		return result{text: req.t("Es ist keine Föderationsliste konfiguriert: die Raum-ACLs folgen allein der Konfiguration.", "No federation list is configured: room ACLs follow the configuration alone.")}
	}
	var s strings.Builder
	fmt.Fprintf(&s, req.t("**Föderationsliste Version %d** von %s, gültig bis %s\n\n", "**Federation list version %d** by %s, valid until %s\n\n"),
		l.Version, l.Issuer, l.ExpiresAt.UTC().Format(time.RFC3339))
	for _, e := range l.Homeservers {
		partners := make([]string, len(e.FederatesWith))
		for i, p := range e.FederatesWith {
			partners[i] = string(p)
		}
		ext := ""
		if e.External {
			ext = req.t(" (auch Externe)", " (outsiders too)")
		}
		fmt.Fprintf(&s, "- `%s` (%s): %s%s\n", e.ServerName, e.Tenant, orDash(strings.Join(partners, ", ")), ext)
	}
	return result{text: s.String()}
}

func (b *Bot) plan(ctx context.Context, req *request) result {
	out, err := b.Env.Plan(ctx)
	if err != nil {
		return fail(err)
	}
	var lines []string
	for _, a := range out.Plan.Actions {
		if t, _ := a.Scope(); !req.scope.Land && t != req.scope.Tenant {
			continue
		}
		lines = append(lines, provisioning.Symbol(a)+" "+provisioning.Describe(a))
	}
	if len(lines) == 0 {
		return result{text: req.t("Alles abgeglichen: keine ausstehenden Änderungen.", "In sync: no pending changes.")}
	}
	var s strings.Builder
	fmt.Fprintf(&s, req.t("**%d ausstehende Änderungen**\n\n", "**%d pending changes**\n\n"), len(lines))
	for i, l := range lines {
		if i == 30 {
			fmt.Fprintf(&s, req.t("… und %d weitere (alle: `landesmessenger plan`)\n", "… and %d more (all: `landesmessenger plan`)\n"), len(lines)-30)
			break
		}
		s.WriteString("- " + l + "\n")
	}
	return result{text: s.String()}
}

func (b *Bot) auditShow(ctx context.Context, req *request) result {
	n := 20
	if c := req.inv.Args["count"]; c != "" {
		n, _ = strconv.Atoi(c)
	}
	f := store.AuditFilter{Limit: n, Tenant: req.inv.Options["tenant"]}
	if u := req.inv.Options["user"]; u != "" {
		if strings.HasPrefix(u, "@") {
			f.Sender = u
		} else if p, ok, err := b.personByID(ctx, personID(u)); err == nil && ok {
			f.Sender = string(b.Env.UserID(p))
		} else {
			return fail(errorf("%s", req.t("Unbekannte Person "+code(u)+".", "Unknown person "+code(u)+".")))
		}
	}
	if !req.scope.Land {
		if f.Tenant != "" && f.Tenant != string(req.scope.Tenant) {
			return fail(errorf("%s", req.t("Hier siehst du nur das Protokoll von "+code(string(req.scope.Tenant))+".", "Here you see the audit trail of "+code(string(req.scope.Tenant))+" only.")))
		}
		f.Tenant = string(req.scope.Tenant)
	}
	entries, err := b.Store.Audit(ctx, f)
	if err != nil {
		return fail(err)
	}
	if len(entries) == 0 {
		return result{text: req.t("Keine Einträge.", "No entries.")}
	}
	var s strings.Builder
	fmt.Fprintf(&s, req.t("**Protokoll: %d Einträge**\n\n", "**Audit trail: %d entries**\n\n"), len(entries))
	for _, e := range entries {
		fmt.Fprintf(&s, "- %s %s %s %s: %s\n", e.At.UTC().Format("2006-01-02 15:04:05"), e.Sender, code(orDash(e.Command)), orDash(e.Tenant), e.Decision)
	}
	return result{text: s.String()}
}

// impact estimates how many people a write command touches.
func (b *Bot) impact(ctx context.Context, req *request) int {
	switch req.inv.Spec.Name {
	case "room close":
		key, err := b.resolveRoom(ctx, req, req.inv.Args["room"])
		if err != nil {
			return 0
		}
		out, err := b.Env.Plan(ctx)
		if err != nil || out.Desired.Rooms[key] == nil {
			return 0
		}
		return len(out.Desired.Rooms[key].Members)
	case "room create":
		people, err := b.people(ctx)
		if err != nil {
			return 0
		}
		n := 0
		for _, p := range people {
			if p.Tenant == config.TenantID(req.inv.Args["tenant"]) && (req.inv.Options["audience"] != "leaders" || p.Role != provisioning.RoleMember) {
				n++
			}
		}
		return n
	case "user add", "user move", "user disable", "user enable", "member add", "member remove", "role grant", "role revoke":
		return 1
	}
	return 0
}
