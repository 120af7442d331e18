package admin

import (
	"context"
	"strings"
	"sync"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/bots/command"
	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/provisioning"
)

// Actor is the sender of a command as the bot knows them.
type Actor struct {
	User   id.UserID
	Person provisioning.Person
	// LandAdmin and Auditor hold in the Land admin room, TenantAdmin in
	// the management room of the person's tenant.
	LandAdmin, TenantAdmin, Auditor bool
}

// person returns the person whose account is user.
func (b *Bot) person(ctx context.Context, user id.UserID) (provisioning.Person, bool, error) {
	people, err := b.people(ctx)
	if err != nil {
		return provisioning.Person{}, false, err
	}
	for _, p := range people {
		if b.Env.UserID(p) == user {
			return p, true, nil
		}
	}
	return provisioning.Person{}, false, nil
}

// actor finds who sent the command and what they are in this room; why is
// the reason of a refusal.
func (b *Bot) actor(ctx context.Context, req *request) (*Actor, string) {
	cfg := b.Env.Config()
	if cfg.Admin.VerifiedDevicesOnly && !req.msg.Trusted {
		return nil, req.t("Befehle werden nur von verifizierten Geräten angenommen. Verifiziere dieses Gerät mit einer anderen Sitzung und versuche es erneut.",
			"Commands are accepted only from verified devices. Verify this device with another session and try again.")
	}
	p, ok, err := b.person(ctx, req.msg.Sender)
	if err != nil {
		b.Log.WithError(err).Warn("admin bot: reading the directory failed")
		return nil, req.t("Das Verzeichnis ist gerade nicht lesbar; bitte später erneut versuchen.", "The directory cannot be read right now; please try again later.")
	}
	if !ok || p.Disabled {
		return nil, req.t("Du bist nicht als Verwalterin oder Verwalter eingetragen.", "You are not registered as an administrator.")
	}
	a := &Actor{User: req.msg.Sender, Person: p}
	if req.scope.Land {
		a.LandAdmin = cfg.Admin.IsLandAdmin(string(p.ID))
		a.Auditor = !a.LandAdmin && cfg.Admin.IsAuditor(string(p.ID))
	} else {
		a.TenantAdmin = p.Tenant == req.scope.Tenant && p.Role == provisioning.RoleAdmin
	}
	if !a.LandAdmin && !a.TenantAdmin && !a.Auditor {
		if req.scope.Land {
			return a, req.t("Im Landes-Verwaltungsraum dürfen nur Landesadministratoren und Prüfer (z. B. der Datenschutzbeauftragte) Befehle geben.",
				"Only Land admins and auditors (such as the data-protection officer) may give commands in the Land admin room.")
		}
		return a, req.t("In diesem Verwaltungsraum dürfen nur die Administratoren von "+string(req.scope.Tenant)+" Befehle geben.",
			"Only the admins of "+string(req.scope.Tenant)+" may give commands in this management room.")
	}
	return a, ""
}

// authorize decides whether the actor may run the command here, and names
// the tenant it concerns ("" for the whole Land).
func (b *Bot) authorize(ctx context.Context, req *request) (config.TenantID, string) {
	a, inv := req.actor, req.inv
	if inv.Spec.Access == command.Write && a.Auditor {
		return "", req.t("Als Prüferin oder Prüfer darfst du nur lesende Befehle geben; "+code("!"+strings.Join(inv.Spec.Words(req.lang), " "))+" ändert etwas.",
			"As an auditor you may only give read-only commands; "+code("!"+strings.Join(inv.Spec.Words(req.lang), " "))+" changes something.")
	}
	tenants, err := b.concerns(ctx, req)
	if err != nil {
		return "", err.Error()
	}
	if a.LandAdmin || a.Auditor {
		return firstTenant(tenants), ""
	}
	for _, t := range tenants {
		if t != req.scope.Tenant {
			if t == "" {
				return t, req.t("Dieser Befehl betrifft das ganze Land; gib ihn im Landes-Verwaltungsraum.",
					"This command concerns the whole Land; give it in the Land admin room.")
			}
			return t, req.t("Dieser Befehl betrifft den Mandanten "+code(string(t))+"; hier verwaltest du nur "+code(string(req.scope.Tenant))+".",
				"This command concerns tenant "+code(string(t))+"; here you administer "+code(string(req.scope.Tenant))+" only.")
		}
	}
	return firstTenant(tenants), ""
}

func firstTenant(ts []config.TenantID) config.TenantID {
	if len(ts) == 0 {
		return ""
	}
	return ts[0]
}

// concerns returns the tenants a command touches: "" stands for the whole
// Land (cross-tenant rooms, tenant lists). Commands about nothing in
// particular (help, status, plan, audit, federation) concern the room's
// scope.
func (b *Bot) concerns(ctx context.Context, req *request) ([]config.TenantID, error) {
	inv := req.inv
	var out []config.TenantID
	switch inv.Spec.Name {
	case "tenant list":
		if !req.scope.Land {
			return nil, nil // a tenant admin sees their own tenant only (handled by the command)
		}
	case "tenant show":
		out = append(out, config.TenantID(inv.Args["tenant"]))
	case "user show", "user disable", "user enable", "role grant", "role revoke":
		p, ok, err := b.personByID(ctx, inv.Args["id"])
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, errorf("%s", req.t("Unbekannte Person "+code(inv.Args["id"])+".", "Unknown person "+code(inv.Args["id"])+"."))
		}
		out = append(out, p.Tenant)
	case "user add":
		out = append(out, config.TenantID(inv.Args["tenant"]))
	case "user move":
		if p, ok, err := b.personByID(ctx, inv.Args["id"]); err != nil {
			return nil, err
		} else if ok {
			out = append(out, p.Tenant)
		}
		out = append(out, config.TenantID(inv.Args["tenant"]))
	case "hold lift", "hold person":
		return b.holdConcerns(ctx, req)
	case "room show", "room close", "member add", "member remove", "retention show", "retention set", "retention reset", "hold room", "deletionlog", "marks pending", "marks clear":
		if inv.Args["room"] == "" {
			break // deletionlog without a room: the rooms the scope may see (handled by the command)
		}
		// A room ID is looked up: it may name another tenant's room.
		key, err := b.resolveRoom(ctx, req, inv.Args["room"])
		if err != nil {
			return nil, err
		}
		// Who may be in the room is the room's matter (its class); the
		// room's tenant decides.
		out = append(out, tenantOf(key))
	case "room create":
		out = append(out, config.TenantID(inv.Args["tenant"]))
	case "guest invite", "guest extend", "guest list", "guest remove":
		return b.guestConcerns(ctx, req)
	}
	if len(out) == 0 && !req.scope.Land {
		out = append(out, req.scope.Tenant)
	}
	return out, nil
}

// tenantOf is the tenant of a room key, "" for cross-tenant rooms.
func tenantOf(key provisioning.RoomKey) config.TenantID {
	t, _, _ := strings.Cut(string(key), "/")
	if t == "rooms" {
		return ""
	}
	return config.TenantID(t)
}

// personByID returns the person with the directory id pid.
func (b *Bot) personByID(ctx context.Context, pid string) (provisioning.Person, bool, error) {
	people, err := b.people(ctx)
	if err != nil {
		return provisioning.Person{}, false, err
	}
	for _, p := range people {
		if string(p.ID) == pid {
			return p, true, nil
		}
	}
	return provisioning.Person{}, false, nil
}

// roomKey resolves a room argument: a key ("hkm/projekt",
// "rooms/landeslage"), a room id of the room's tenant ("projekt") or a
// cross-tenant room ("landeslage").
func (b *Bot) roomKey(req *request, arg string) (provisioning.RoomKey, error) {
	cfg := b.Env.Config()
	arg = strings.TrimPrefix(strings.ToLower(arg), "#")
	if strings.HasPrefix(arg, "lm.") { // an alias localpart
		arg = strings.Replace(strings.TrimPrefix(arg, "lm."), ".", "/", 1)
		if i := strings.IndexByte(arg, ':'); i >= 0 {
			arg = arg[:i]
		}
	}
	if strings.Contains(arg, "/") {
		return provisioning.RoomKey(arg), nil
	}
	if !req.scope.Land {
		return provisioning.TenantRoomKey(req.scope.Tenant, arg), nil
	}
	if _, ok := cfg.Room(config.RoomID(arg)); ok {
		return provisioning.CrossRoomKey(config.RoomID(arg)), nil
	}
	return "", errorf("%s", req.t("Raum "+code(arg)+" ist nicht eindeutig: gib MANDANT/RAUM an, z. B. "+code("hkm/allgemein")+".",
		"Room "+code(arg)+" is ambiguous: give TENANT/ROOM, e.g. "+code("hkm/allgemein")+"."))
}

// limiter bounds the commands per sender: burst, then one per interval.
type limiter struct {
	mu     sync.Mutex
	burst  int
	every  time.Duration
	tokens map[id.UserID]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
	warned time.Time
}

// newLimiter allows burst commands at once and then one every every.
func newLimiter(burst int, every time.Duration) *limiter {
	return &limiter{burst: burst, every: every, tokens: map[id.UserID]*bucket{}}
}

func (l *limiter) get(u id.UserID, now time.Time) *bucket {
	bk, ok := l.tokens[u]
	if !ok {
		bk = &bucket{tokens: float64(l.burst), last: now}
		l.tokens[u] = bk
	}
	bk.tokens = min(float64(l.burst), bk.tokens+now.Sub(bk.last).Seconds()/l.every.Seconds())
	bk.last = now
	return bk
}

func (l *limiter) allow(u id.UserID, now time.Time) bool {
	if l == nil {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	bk := l.get(u, now)
	if bk.tokens < 1 {
		return false
	}
	bk.tokens--
	return true
}

// warnOnce reports whether the sender should be told about the limit: once
// a minute at most.
func (l *limiter) warnOnce(u id.UserID, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	bk := l.get(u, now)
	if now.Sub(bk.warned) < time.Minute {
		return false
	}
	bk.warned = now
	return true
}

// peopleCache holds the people read once for one command: the checks and
// the handler all ask, and each read goes through the directory, the
// overrides and the lifecycle hooks.
type peopleCache struct {
	once   sync.Once
	people []provisioning.Person
	err    error
}

type peopleKey struct{}

// withPeopleCache gives ctx a cache for one command or confirmation.
func withPeopleCache(ctx context.Context) context.Context {
	return context.WithValue(ctx, peopleKey{}, &peopleCache{})
}

// people returns the people as the next plan sees them, read once per
// command.
func (b *Bot) people(ctx context.Context) ([]provisioning.Person, error) {
	c, ok := ctx.Value(peopleKey{}).(*peopleCache)
	if !ok {
		return b.Env.People(ctx)
	}
	c.once.Do(func() { c.people, c.err = b.Env.People(ctx) })
	return c.people, c.err
}
