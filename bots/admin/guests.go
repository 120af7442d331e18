package admin

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"sort"
	"strings"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/provisioning/reconcile"
	"github.com/landesmessenger/landesmessenger/store"
)

// This file holds the commands about external guests: people outside the
// administration (timber buyers, contractors, hunting guests) whom admins
// invite into rooms of class external for a limited time. A guest is a
// record in the store; the service's plan hook makes every active one a
// person of the plan, with an account of their own on the externals'
// homeserver, in the rooms they are invited to only.

// GuestRetirer is an optional capability of Env: ending guests at once,
// by removing them from every managed room and deactivating their
// accounts, without waiting for a plan (whose mass-removal guard could
// hold up the removal of a guest in a small tenant). The guests must be
// ended in the store already.
type GuestRetirer interface {
	RetireGuests(ctx context.Context, users []id.UserID) (*reconcile.Result, error)
}

// GuestDisplayName is the display name of a guest's account, such as
// "Karl Käufer, Holz AG (extern)".
func GuestDisplayName(g store.Guest) string {
	if g.Organisation == "" {
		return g.Name + " (extern)"
	}
	return g.Name + ", " + g.Organisation + " (extern)"
}

// guestConcerns returns the tenants a guest command touches: the tenant
// of the room a guest is invited into, the tenant responsible for a guest,
// the tenant whose guests are listed.
func (b *Bot) guestConcerns(ctx context.Context, req *request) ([]config.TenantID, error) {
	inv := req.inv
	var out []config.TenantID
	switch inv.Spec.Name {
	case "guest invite":
		key, err := b.resolveRoom(ctx, req, inv.Args["room"])
		if err != nil {
			return nil, err
		}
		out = append(out, tenantOf(key))
	case "guest extend", "guest remove":
		g, err := b.findGuest(ctx, req, inv.Args["id"])
		if err != nil {
			return nil, err
		}
		if inv.Spec.Name == "guest remove" && g.Status != store.GuestActive {
			// Nothing to confirm.
			return nil, errorf("%s", guestEnded(req, *g, b.now()))
		}
		out = append(out, config.TenantID(g.Tenant))
	case "guest list":
		if t := inv.Args["tenant"]; t != "" {
			out = append(out, config.TenantID(t))
		}
	}
	if len(out) == 0 && !req.scope.Land {
		out = append(out, req.scope.Tenant)
	}
	return out, nil
}

// findGuest returns the guest an argument names: a Matrix ID, or the
// localpart of one guest.
func (b *Bot) findGuest(ctx context.Context, req *request, arg string) (*store.Guest, error) {
	unknown := errorf("%s", req.t("Unbekannter Gast "+code(arg)+"; die Gäste zeigt "+code("!gast liste")+".",
		"Unknown guest "+code(arg)+"; "+code("!guest list")+" shows the guests."))
	if strings.HasPrefix(arg, "@") {
		g, err := b.Store.Guest(ctx, arg)
		if err != nil {
			return nil, err
		}
		if g == nil {
			return nil, unknown
		}
		return g, nil
	}
	all, err := b.Store.Guests(ctx)
	if err != nil {
		return nil, err
	}
	var found []store.Guest
	for _, g := range all {
		if local, _, err := id.UserID(g.UserID).Parse(); err == nil && local == strings.ToLower(arg) {
			found = append(found, g)
		}
	}
	switch len(found) {
	case 0:
		return nil, unknown
	case 1:
		return &found[0], nil
	}
	return nil, errorf("%s", req.t("Die Kennung "+code(arg)+" ist nicht eindeutig; gib die Matrix-ID an.",
		"The id "+code(arg)+" is ambiguous; give the Matrix ID."))
}

func (b *Bot) guestInvite(ctx context.Context, req *request) result {
	a := req.inv.Args
	cfg := b.Env.Config()
	key, err := b.resolveRoom(ctx, req, a["room"])
	if err != nil {
		return fail(err)
	}
	tid := tenantOf(key)
	t, ok := cfg.Tenant(tid)
	if !ok {
		return fail(errorf("%s", req.t("Gäste werden in Räume eines Mandanten eingeladen ("+code("mandant/raum")+"); "+code(string(key))+" ist keiner.",
			"Guests are invited into rooms of a tenant ("+code("tenant/room")+"); "+code(string(key))+" is none.")))
	}
	out, err := b.Env.Plan(ctx)
	if err != nil {
		return fail(err)
	}
	room := out.Desired.Rooms[key]
	switch {
	case room == nil:
		return fail(errorf("%s", req.t("Unbekannter Raum "+code(string(key))+".", "Unknown room "+code(string(key))+".")))
	case room.Class != config.ClassExternal:
		return fail(errorf("%s", req.t("Der Raum "+code(string(key))+" hat die Klasse "+code(string(room.Class))+": Gäste dürfen nur in Räume der Klasse "+code("extern")+".",
			"Room "+code(string(key))+" is of class "+code(string(room.Class))+": guests may only join rooms of class "+code("external")+".")))
	}
	email := a["email"]
	if !plausibleEmail(email) {
		return fail(errorf("%s", req.t(code(email)+" ist keine gültige E-Mail-Adresse.", code(email)+" is no valid e-mail address.")))
	}
	now := b.now()
	expires, err := guestExpiry(req, req.inv.Options["until"], now, cfg.Externals)
	if err != nil {
		return fail(err)
	}
	hs := cfg.Externals.Homeserver
	if hs == "" {
		hs = t.Homeserver
	}
	server := out.Desired.ServerNames[hs]
	if server == "" {
		return fail(fmt.Errorf("guest invite: homeserver %s is not connected", hs))
	}
	guests, err := b.Store.Guests(ctx)
	if err != nil {
		return fail(err)
	}
	// The same person again (same e-mail, same tenant): one more room.
	for _, g := range guests {
		if g.Status == store.GuestActive && g.ExpiresAt.After(now) && g.Tenant == string(tid) && strings.EqualFold(g.Email, email) {
			r := b.guestAddRoom(ctx, req, g, string(key))
			if req.inv.Options["until"] != "" && r.err == nil {
				r.text += "\n\n" + req.t("Die Frist bleibt; ändern mit "+code("!gast verlaengern")+".", "The expiry stays; change it with "+code("!guest extend")+".")
			}
			return r
		}
	}
	people, err := b.people(ctx)
	if err != nil {
		return fail(err)
	}
	taken := map[string]bool{}
	for _, p := range people {
		taken[string(p.ID)] = true
	}
	for _, g := range guests {
		if local, _, err := id.UserID(g.UserID).Parse(); err == nil {
			taken[local] = true
		}
	}
	g := store.Guest{
		Name: a["given"] + " " + a["surname"], Organisation: a["organisation"], Email: email, Tenant: string(tid),
		Rooms: []string{string(key)}, InvitedBy: string(req.msg.Sender), CreatedAt: now, ExpiresAt: expires, Status: store.GuestActive,
	}
	base := cfg.Externals.LocalpartPrefix + guestSlug(g.Name)
	for n := 1; ; n++ {
		local := base
		if n > 1 {
			local = fmt.Sprintf("%s.%d", base, n)
		}
		if taken[local] {
			continue
		}
		g.UserID = id.NewUserID(local, server).String()
		err = b.Store.AddGuest(ctx, g)
		if !errors.Is(err, store.ErrGuestExists) || n > 100 {
			break
		}
	}
	if err != nil {
		return fail(err)
	}
	r := b.apply(ctx, req, fmt.Sprintf("guest invite %s (%s) into %s until %s", g.UserID, g.Email, key, lastDay(expires)))
	info := req.t(
		fmt.Sprintf("Gast eingeladen: %s, Konto `%s`, Raum `%s`, gültig bis %s.\n\n"+
			"Das Anfangspasswort steht in der Zugangsdatei des Dienstes (nicht im Chat); gib es dem Gast auf sicherem Weg. "+
			"Die E-Mail-Adresse ist für die Admins gespeichert; eine E-Mail wird nicht verschickt.",
			code(GuestDisplayName(g)), g.UserID, key, lastDay(expires)),
		fmt.Sprintf("Guest invited: %s, account `%s`, room `%s`, valid until %s.\n\n"+
			"The initial password is in the service's credentials file (not in chat); hand it to the guest on a safe way. "+
			"The e-mail address is kept for the admins; no e-mail is sent.",
			code(GuestDisplayName(g)), g.UserID, key, lastDay(expires)))
	r.text = strings.TrimSpace(info + "\n\n" + r.text)
	return r
}

// guestAddRoom invites an active guest into one more room.
func (b *Bot) guestAddRoom(ctx context.Context, req *request, g store.Guest, key string) result {
	for _, r := range g.Rooms {
		if r == key {
			return result{text: req.t(code(GuestDisplayName(g))+" (`"+g.UserID+"`) ist schon in "+code(key)+" eingeladen.",
				code(GuestDisplayName(g))+" (`"+g.UserID+"`) is invited to "+code(key)+" already.")}
		}
	}
	if ok, err := b.Store.SetGuestRooms(ctx, g.UserID, append(g.Rooms, key)); err != nil {
		return fail(err)
	} else if !ok {
		return fail(errorf("%s", req.t("Der Zugang des Gastes ist gerade beendet worden.", "The guest's access has just ended.")))
	}
	r := b.apply(ctx, req, fmt.Sprintf("guest invite %s into %s (one more room)", g.UserID, key))
	r.text = strings.TrimSpace(req.t(
		fmt.Sprintf("%s (`%s`) ist schon Gast, gültig bis %s; jetzt auch in `%s`.", code(GuestDisplayName(g)), g.UserID, lastDay(g.ExpiresAt), key),
		fmt.Sprintf("%s (`%s`) is a guest already, valid until %s; now in `%s` too.", code(GuestDisplayName(g)), g.UserID, lastDay(g.ExpiresAt), key)) +
		"\n\n" + r.text)
	return r
}

func (b *Bot) guestExtend(ctx context.Context, req *request) result {
	g, err := b.findGuest(ctx, req, req.inv.Args["id"])
	if err != nil {
		return fail(err)
	}
	until := req.inv.Options["until"]
	if until == "" {
		return fail(errorf("%s", req.t("Bis wann? Gib den letzten Tag an, z. B. "+code("bis=2027-06-30")+".",
			"Until when? Give the last day, e.g. "+code("until=2027-06-30")+".")))
	}
	now := b.now()
	ended := errorf("%s", req.t("Der Zugang von "+code(g.UserID)+" ist schon beendet ("+guestStatus(req, *g, now)+"); ein abgelaufenes Konto lässt sich nicht verlängern: lade den Gast neu ein.",
		"The access of "+code(g.UserID)+" has ended already ("+guestStatus(req, *g, now)+"); an expired account cannot be extended: invite the guest again."))
	if g.Status != store.GuestActive || !g.ExpiresAt.After(now) {
		return fail(ended)
	}
	expires, err := guestExpiry(req, until, now, b.Env.Config().Externals)
	if err != nil {
		return fail(err)
	}
	ok, err := b.Store.ExtendGuest(ctx, g.UserID, expires, now)
	if err != nil {
		return fail(err)
	} else if !ok {
		return fail(ended)
	}
	return result{
		text: req.t(fmt.Sprintf("Der Zugang von %s (`%s`) gilt jetzt bis %s.", code(GuestDisplayName(*g)), g.UserID, lastDay(expires)),
			fmt.Sprintf("The access of %s (`%s`) now lasts until %s.", code(GuestDisplayName(*g)), g.UserID, lastDay(expires))),
		detail: fmt.Sprintf("guest extend %s until %s (was until %s)", g.UserID, lastDay(expires), lastDay(g.ExpiresAt)),
	}
}

// maxGuestLines bounds the guests one reply lists.
const maxGuestLines = 50

func (b *Bot) guestList(ctx context.Context, req *request) result {
	tenant := req.inv.Args["tenant"]
	if !req.scope.Land {
		tenant = string(req.scope.Tenant)
	}
	if tenant != "" {
		if _, ok := b.Env.Config().Tenant(config.TenantID(tenant)); !ok {
			return fail(errorf("%s", req.t("Unbekannter Mandant "+code(tenant)+".", "Unknown tenant "+code(tenant)+".")))
		}
	}
	all, err := b.Store.Guests(ctx)
	if err != nil {
		return fail(err)
	}
	now := b.now()
	var active, ended []store.Guest
	for _, g := range all {
		switch {
		case tenant != "" && g.Tenant != tenant:
		case g.Status == store.GuestActive && g.ExpiresAt.After(now):
			active = append(active, g)
		default:
			ended = append(ended, g)
		}
	}
	if len(active)+len(ended) == 0 {
		return result{text: req.t("Keine Gäste.", "No guests.")}
	}
	sort.SliceStable(active, func(i, j int) bool { return active[i].ExpiresAt.Before(active[j].ExpiresAt) })
	sort.SliceStable(ended, func(i, j int) bool { return ended[i].ExpiresAt.After(ended[j].ExpiresAt) })
	var s strings.Builder
	fmt.Fprintf(&s, req.t("**Gäste: %d aktiv, %d beendet**\n\n", "**Guests: %d active, %d ended**\n\n"), len(active), len(ended))
	for i, g := range append(active, ended...) {
		if i == maxGuestLines {
			fmt.Fprintf(&s, req.t("- … und %d weitere\n", "- … and %d more\n"), len(active)+len(ended)-maxGuestLines)
			break
		}
		fmt.Fprintf(&s, "- %s `%s` · %s · %s %s · %s %s · %s · %s %s\n",
			code(GuestDisplayName(g)), g.UserID, code(g.Email),
			req.t("Räume:", "rooms:"), strings.Join(g.Rooms, ", "),
			req.t("bis", "until"), lastDay(g.ExpiresAt), guestStatus(req, g, now),
			req.t("eingeladen von", "invited by"), g.InvitedBy)
	}
	return result{text: s.String()}
}

func (b *Bot) guestRemove(ctx context.Context, req *request) result {
	g, err := b.findGuest(ctx, req, req.inv.Args["id"])
	if err != nil {
		return fail(err)
	}
	ok, err := b.Store.EndGuest(ctx, g.UserID, store.GuestRemoved)
	if err != nil {
		return fail(err)
	} else if !ok {
		return fail(errorf("%s", guestEnded(req, *g, b.now())))
	}
	what := "guest remove " + g.UserID
	rt, ok := b.Env.(GuestRetirer)
	if !ok {
		return b.apply(ctx, req, what)
	}
	res, err := rt.RetireGuests(ctx, []id.UserID{id.UserID(g.UserID)})
	if err != nil {
		return result{detail: what, err: err}
	}
	r := result{
		text: req.t(fmt.Sprintf("Der Zugang von %s (`%s`) ist beendet: aus den Räumen entfernt, Konto deaktiviert (%d Änderungen).", code(GuestDisplayName(*g)), g.UserID, res.Done),
			fmt.Sprintf("The access of %s (`%s`) has ended: removed from the rooms, account deactivated (%d changes).", code(GuestDisplayName(*g)), g.UserID, res.Done)),
		detail: fmt.Sprintf("%s; applied %d, failed %d", what, res.Done, res.Failed),
	}
	if res.Failed > 0 {
		r.text += req.t(fmt.Sprintf(" %d fehlgeschlagen; der Dienst versucht es innerhalb einer Minute erneut.", res.Failed),
			fmt.Sprintf(" %d failed; the service tries again within a minute.", res.Failed))
	}
	return r
}

// guestEnded says that a guest's access has ended already.
func guestEnded(req *request, g store.Guest, now time.Time) string {
	return req.t("Der Zugang von "+code(g.UserID)+" ist schon beendet ("+guestStatus(req, g, now)+").",
		"The access of "+code(g.UserID)+" has ended already ("+guestStatus(req, g, now)+").")
}

// guestStatus says in the reply's language how a guest stands at now.
func guestStatus(req *request, g store.Guest, now time.Time) string {
	switch {
	case g.Status == store.GuestRemoved:
		return req.t("entfernt", "removed")
	case g.Status == store.GuestExpired || !g.ExpiresAt.After(now):
		return req.t("abgelaufen", "expired")
	}
	return req.t("aktiv", "active")
}

// guestExpiry returns when a guest's access ends: at the end of the day
// until names (in the service's time zone), or, without until, at the end
// of the day the default validity ends. It is refused if it is not in the
// future or later than the end of the day the maximal validity ends.
func guestExpiry(req *request, until string, now time.Time, ex config.Externals) (time.Time, error) {
	if until == "" {
		return dayAfter(now.Add(ex.DefaultValidity)), nil
	}
	var day time.Time
	var err error
	for _, layout := range []string{"2006-01-02", "2.1.2006"} {
		if day, err = time.ParseInLocation(layout, until, now.Location()); err == nil {
			break
		}
	}
	if err != nil {
		return time.Time{}, errorf("%s", req.t(code(until)+" ist kein Datum; erwartet: "+code("JJJJ-MM-TT")+" oder "+code("TT.MM.JJJJ")+".",
			code(until)+" is no date; expected: "+code("YYYY-MM-DD")+" or "+code("DD.MM.YYYY")+"."))
	}
	expires, latest := dayAfter(day), dayAfter(now.Add(ex.MaxValidity))
	switch {
	case !expires.After(now):
		return time.Time{}, errorf("%s", req.t("Der "+lastDay(expires)+" ist vorbei; gib einen Tag ab heute an.",
			lastDay(expires)+" is over; give a day from today on."))
	case expires.After(latest):
		return time.Time{}, errorf("%s", req.t("Ein Gastzugang gilt höchstens bis "+lastDay(latest)+" (externals.max_validity).",
			"Guest access lasts until "+lastDay(latest)+" at most (externals.max_validity)."))
	}
	return expires, nil
}

// dayAfter returns the start of the day after t's day, in t's location.
func dayAfter(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, t.Location())
}

// lastDay returns the last day of access that ends at expires.
func lastDay(expires time.Time) string {
	return expires.Add(-time.Nanosecond).Format("2006-01-02")
}

// plausibleEmail checks an e-mail address roughly: one address, a domain
// with a dot, no display name.
func plausibleEmail(s string) bool {
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Address != s || addr.Name != "" || len(s) > 254 {
		return false
	}
	_, domain, _ := strings.Cut(s, "@")
	return strings.Contains(domain, ".") && !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".")
}

// translit spells letters a Matrix localpart cannot hold.
var translit = map[rune]string{
	'ä': "ae", 'ö': "oe", 'ü': "ue", 'ß': "ss", 'æ': "ae", 'œ': "oe", 'ø': "o", 'å': "a",
	'á': "a", 'à': "a", 'â': "a", 'ã': "a", 'é': "e", 'è': "e", 'ê': "e", 'ë': "e",
	'í': "i", 'ì': "i", 'î': "i", 'ï': "i", 'ó': "o", 'ò': "o", 'ô': "o", 'õ': "o",
	'ú': "u", 'ù': "u", 'û': "u", 'ç': "c", 'ć': "c", 'č': "c", 'ñ': "n", 'ń': "n",
	'ł': "l", 'š': "s", 'ś': "s", 'ž': "z", 'ź': "z", 'ż': "z", 'ř': "r", 'ý': "y", 'ğ': "g", 'ı': "i",
}

// maxSlug bounds the name part of a guest's localpart.
const maxSlug = 40

// guestSlug turns a name into the name part of a localpart: lower-case
// letters and digits, words joined by dots ("Karl Käufer" → "karl.kaeufer").
func guestSlug(name string) string {
	var b strings.Builder
	sep := false
	for _, r := range strings.ToLower(name) {
		s := translit[r]
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			s = string(r)
		case s == "":
			sep = b.Len() > 0
			continue
		}
		if sep {
			b.WriteByte('.')
			sep = false
		}
		b.WriteString(s)
	}
	out := b.String()
	if len(out) > maxSlug {
		out = strings.TrimRight(out[:maxSlug], ".")
	}
	if out == "" {
		return "gast"
	}
	return out
}
