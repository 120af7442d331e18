package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/bots/command"
	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/store"
)

// prompt says why a command waits for a confirmation.
type prompt struct {
	fourEyes bool
	impact   int // people touched, if known
	// note says what the command will change, from precheck.
	note string
}

// precheck runs the checks of a command that can tell before its
// confirmation whether it will succeed, so that a command bound to fail is
// refused at once instead of after the ✅. It returns what the command
// will change, for the prompt, or why it is refused.
func (b *Bot) precheck(ctx context.Context, req *request) (note, why string) {
	switch req.inv.Spec.Name {
	case "retention set", "retention reset":
		ch, err := b.retentionChange(ctx, req)
		if err != nil {
			return "", b.refusal(req, err)
		}
		return ch.describe(req), ""
	}
	return "", ""
}

// refusal is the reason shown for err, which kept a command from running:
// a *userError as it is; the cause of others is logged.
func (b *Bot) refusal(req *request, err error) string {
	var ue *userError
	if errors.As(err, &ue) {
		return ue.msg
	}
	b.Log.WithError(err).WithField("command", req.inv.Spec.Name).Warn("admin bot could not check a command")
	return req.t("Der Befehl kann gerade nicht geprüft werden; bitte später erneut.", "The command cannot be checked right now; please try again later.")
}

// needsConfirmation decides whether a command waits for a ✅: destructive
// commands (their own policy), commands configured as four-eyes, and
// commands touching more than WideImpact people.
func (b *Bot) needsConfirmation(ctx context.Context, req *request) (prompt, bool) {
	if req.audit != 0 {
		return prompt{}, false // confirmed already
	}
	p := prompt{fourEyes: b.Env.Config().Admin.NeedsFourEyes(req.inv.Spec.Name)}
	if req.inv.Spec.Access == command.Write {
		p.impact = b.impact(ctx, req)
	}
	return p, p.fourEyes || req.inv.Spec.Confirm == command.ConfirmIssuer || p.impact > WideImpact
}

// ask posts the confirmation prompt and keeps the command until a ✅.
func (b *Bot) ask(ctx context.Context, req *request, tenant config.TenantID, p prompt) {
	var text strings.Builder
	text.WriteString("⚠️ " + code(req.inv.String()))
	if p.impact > 0 {
		fmt.Fprintf(&text, req.t(" betrifft %d Personen.", " touches %d people."), p.impact)
	}
	if p.note != "" {
		text.WriteString(" " + p.note)
	}
	if p.fourEyes {
		text.WriteString(req.t(" Vier-Augen-Prinzip: eine zweite berechtigte Person bestätigt mit ✅ auf diese Nachricht, innerhalb von 5 Minuten.",
			" Four eyes: a second admin with the right confirms with ✅ on this message, within 5 minutes."))
	} else {
		text.WriteString(req.t(" Bitte bestätige mit ✅ auf diese Nachricht, innerhalb von 5 Minuten.",
			" Please confirm with ✅ on this message, within 5 minutes."))
	}
	detail := "confirmation by the issuer"
	if p.fourEyes {
		detail = "confirmation by a second admin (four eyes)"
	}
	auditID := b.auditTenant(ctx, req, req.inv.Spec.Name, tenant, "awaiting_confirmation", detail)
	promptID, err := req.bot.Reply(ctx, req.msg.Room, req.msg.Event, text.String())
	if err != nil {
		b.Log.WithError(err).Warn("admin bot could not ask for a confirmation")
		return
	}
	now := b.now()
	if err := b.Store.SavePending(ctx, store.PendingCommand{
		PromptID: string(promptID), Bot: string(req.bot.UserID()), Room: string(req.msg.Room), EventID: string(req.msg.Event),
		Sender: string(req.msg.Sender), Command: req.inv.String(), FourEyes: p.fourEyes,
		CreatedAt: now, ExpiresAt: now.Add(ConfirmWithin), AuditID: auditID,
	}); err != nil {
		b.Log.WithError(err).Error("admin bot could not keep a command for its confirmation")
		b.reply(ctx, req, "❌ "+req.t("Der Befehl kann gerade nicht vorgemerkt werden; bitte später erneut.", "The command cannot be kept right now; please try again later."))
	}
}

// HandleReaction handles a reaction in a management room: a ✅ on a
// confirmation prompt carries out the command it asks about.
func (b *Bot) HandleReaction(ctx context.Context, rp Replier, r *Reaction) {
	if _, ok := b.scope(r.Room); !ok || !isConfirm(r.Key) {
		return
	}
	ctx = withPeopleCache(ctx)
	p, err := b.Store.Pending(ctx, string(r.RelatesTo))
	if err != nil {
		b.Log.WithError(err).Warn("admin bot: reading a pending command failed")
		return
	}
	if p == nil || p.Room != string(r.Room) || p.Bot != string(rp.UserID()) {
		return // not a prompt of this bot
	}
	msg := &Message{Room: r.Room, Event: id.EventID(p.EventID), Sender: id.UserID(p.Sender), Body: p.Command, Time: p.CreatedAt}
	// The confirmer's request: who reacted, judged like a command.
	conf := &Message{Room: r.Room, Event: r.Event, Sender: r.Sender, Device: r.Device, Body: p.Command, Trusted: r.Trusted, Time: r.Time}
	scope, _ := b.scope(r.Room)
	inv, perr := command.ParseLang(p.Command, b.defaultLang())
	if perr != nil || inv == nil {
		return
	}
	creq := &request{bot: rp, msg: conf, scope: scope, inv: inv, lang: inv.Lang}
	refuse := func(why string) {
		b.auditRef(ctx, creq, inv.Spec.Name, "", "refused", "confirmation: "+why, p.AuditID)
		if _, err := rp.Reply(ctx, r.Room, id.EventID(p.PromptID), "⛔ "+why); err != nil {
			b.Log.WithError(err).Warn("admin bot could not reply")
		}
	}
	switch {
	case p.State != "pending":
		return // done already, or being done
	case b.now().After(p.ExpiresAt):
		if ok, _ := b.Store.TransitionPending(ctx, p.PromptID, "pending", "expired"); ok {
			refuse(creq.t("Die Bestätigung kam zu spät (nach 5 Minuten); gib den Befehl erneut.", "The confirmation came too late (after 5 minutes); give the command again."))
		}
		return
	case p.FourEyes && r.Sender == id.UserID(p.Sender):
		refuse(creq.t("Vier-Augen-Prinzip: eine andere berechtigte Person muss bestätigen, nicht du selbst.", "Four eyes: another admin with the right must confirm, not you."))
		return
	case !p.FourEyes && r.Sender != id.UserID(p.Sender):
		return // only the issuer confirms their own command
	}
	if p.FourEyes {
		actor, why := b.actor(ctx, creq)
		creq.actor = actor
		if why == "" {
			_, why = b.authorize(ctx, creq)
		}
		if why == "" && inv.Spec.Access == command.Write && actor.Auditor {
			why = creq.t("Prüfer dürfen nicht bestätigen.", "Auditors may not confirm.")
		}
		if why != "" {
			refuse(why)
			return
		}
	}
	if ok, err := b.Store.TransitionPending(ctx, p.PromptID, "pending", "confirmed"); err != nil || !ok {
		return // another confirmation won
	}
	b.auditRef(ctx, creq, inv.Spec.Name, "", "confirmed", "by "+string(r.Sender), p.AuditID)
	// Carry it out as the issuer, re-checking their rights now.
	req := &request{bot: rp, msg: msg, scope: scope, inv: inv, lang: inv.Lang, audit: p.AuditID}
	actor, why := b.actor(ctx, req)
	req.actor = actor
	var tenant config.TenantID
	if why == "" {
		tenant, why = b.authorize(ctx, req)
	}
	if why != "" {
		_, _ = b.Store.TransitionPending(ctx, p.PromptID, "confirmed", "failed")
		b.auditRef(ctx, req, inv.Spec.Name, tenant, "refused", why, p.AuditID)
		b.reply(ctx, req, "⛔ "+why)
		return
	}
	b.run(ctx, req, tenant)
	_, _ = b.Store.TransitionPending(ctx, p.PromptID, "confirmed", "done")
}

func isConfirm(key string) bool {
	switch strings.TrimSuffix(key, "\ufe0f") {
	case "✅", "✔":
		return true
	}
	return false
}
