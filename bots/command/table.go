package command

import "strings"

// The arguments, shared by the commands that take them.
var (
	argID = Arg{Name: "KENNUNG", NameEN: "ID", kind: kindPerson, desc: phrase{
		"Kennung der Person im Verzeichnis (z. B. `mmustermann`) oder ihre Matrix-ID (`@mmustermann:land.hessen.de`)",
		"the person's directory id (e.g. `mmustermann`) or Matrix ID (`@mmustermann:land.hessen.de`)"}}
	argTenant = Arg{Name: "MANDANT", NameEN: "TENANT", kind: kindSlug, desc: phrase{
		"Kennung des Mandanten (z. B. `hmdis`)",
		"the tenant's id (e.g. `hmdis`)"}}
	argRoom = Arg{Name: "RAUM", NameEN: "ROOM", kind: kindRoom, desc: phrase{
		"der Raum: `mandant/raum` (z. B. `hmdis/allgemein`), Raum-ID (`!…`) oder Alias (`#…:server`)",
		"the room: `tenant/room` (e.g. `hmdis/allgemein`), room ID (`!…`) or alias (`#…:server`)"}}
	argGiven = Arg{Name: "VORNAME", NameEN: "GIVEN", kind: kindText, desc: phrase{
		"Vorname; mehrere Wörter in Anführungszeichen",
		"given name; several words in quotes"}}
	argSurname = Arg{Name: "NACHNAME", NameEN: "SURNAME", kind: kindText, desc: phrase{
		"Nachname; mehrere Wörter in Anführungszeichen",
		"surname; several words in quotes"}}
	argRoomID = Arg{Name: "RAUMID", NameEN: "ROOMID", kind: kindSlug, desc: phrase{
		"Kennung des neuen Raums im Mandanten (Kleinbuchstaben, Ziffern, Bindestriche)",
		"the new room's id within the tenant (lower-case letters, digits, hyphens)"}}
	argRoomName = Arg{Name: "NAME", NameEN: "NAME", Rest: true, kind: kindText, desc: phrase{
		"Anzeigename des Raums: der Rest der Nachricht",
		"the room's display name: the rest of the message"}}
	argGrantRole = Arg{Name: "ROLLE", NameEN: "ROLE", Values: []string{"moderator", "admin"}, kind: kindChoice, desc: phrase{
		"die neue Rolle im Mandanten",
		"the new role in the tenant"}}
	argCount = Arg{Name: "ANZAHL", NameEN: "COUNT", Optional: true, kind: kindCount, desc: phrase{
		"wie viele Einträge, 1 bis 1000",
		"how many entries, 1 to 1000"}}
	argHoldNumber = Arg{Name: "NUMMER", NameEN: "NUMBER", kind: kindCount, desc: phrase{
		"die Nummer der Löschsperre",
		"the legal hold's number"}}
	argGuest = Arg{Name: "KENNUNG", NameEN: "ID", kind: kindPerson, desc: phrase{
		"Kennung des Gastes (z. B. `ext.karl.kaeufer`) oder seine Matrix-ID",
		"the guest's id (e.g. `ext.karl.kaeufer`) or Matrix ID"}}
	argGuestRoom = Arg{Name: "RAUM", NameEN: "ROOM", kind: kindRoom, desc: phrase{
		"ein Raum der Klasse extern eines Mandanten: `mandant/raum` (z. B. `hessenforst/holzmarkt`), Raum-ID oder Alias",
		"a room of class external of a tenant: `tenant/room` (e.g. `hessenforst/holzmarkt`), room ID or alias"}}
	argOrganisation = Arg{Name: "ORGANISATION", NameEN: "ORGANISATION", kind: kindText, desc: phrase{
		"Firma oder Organisation des Gastes; mehrere Wörter in Anführungszeichen",
		"the guest's company or organisation; several words in quotes"}}
	argEmail = Arg{Name: "EMAIL", NameEN: "EMAIL", kind: kindText, desc: phrase{
		"E-Mail-Adresse des Gastes, für die Admins gespeichert (es wird keine E-Mail verschickt)",
		"the guest's e-mail address, kept for the admins (no e-mail is sent)"}}
	argTenantOptional = Arg{Name: "MANDANT", NameEN: "TENANT", Optional: true, kind: kindSlug, desc: phrase{
		"nur die Gäste dieses Mandanten; im Verwaltungsraum eines Mandanten immer dessen Gäste",
		"only the guests of this tenant; in a tenant's management room always its guests"}}
	argRoomFilter = Arg{Name: "RAUM", NameEN: "ROOM", Optional: true, kind: kindRoom, desc: phrase{
		"nur Einträge dieses Raums (`mandant/raum`, Raum-ID oder Alias); ohne: alle Räume, die du hier sehen darfst",
		"only entries of this room (`tenant/room`, room ID or alias); without it: every room you may see here"}}
	argMarkEvent = Arg{Name: "EREIGNIS", NameEN: "EVENT", kind: kindText, desc: phrase{
		"die Event-ID der Markierung (`$…`), wie `!ablage offen` sie zeigt",
		"the mark's event ID (`$…`), as `!marks pending` shows it"}}
	argCommand = Arg{Name: "BEFEHL", NameEN: "COMMAND", Optional: true, Rest: true, kind: kindText, desc: phrase{
		"der Befehl, zu dem die Hilfe gezeigt wird",
		"the command to show the help for"}}
)

// The options, shared by the commands that take them.
var (
	optUnit = Option{Key: "einheit", KeyEN: "unit",
		Value: Arg{Name: "EINHEIT", NameEN: "UNIT", kind: kindSlug},
		desc: phrase{
			"Einheit im Mandanten (z. B. `lpp`)",
			"the unit within the tenant (e.g. `lpp`)"}}
	optRole = Option{Key: "rolle", KeyEN: "role",
		Value: Arg{Name: "ROLLE", NameEN: "ROLE", Values: []string{"member", "moderator", "admin"}, kind: kindChoice},
		desc: phrase{
			"Rolle im Mandanten; ohne die Option: Mitglied",
			"the role in the tenant; without the option: member"}}
	optReason = Option{Key: "grund", KeyEN: "reason",
		Value: Arg{Name: "TEXT", NameEN: "TEXT", kind: kindText},
		desc: phrase{
			"Grund, für das Protokoll; mehrere Wörter in Anführungszeichen",
			"the reason, for the audit trail; several words in quotes"}}
	optClass = Option{Key: "klasse", KeyEN: "class",
		Value: Arg{Name: "KLASSE", NameEN: "CLASS", Values: []string{"internal", "cross-agency", "external"}, kind: kindChoice},
		desc: phrase{
			"wer in den Raum darf: nur Personen des Mandanten (intern, ohne die Option), auch anderer Mandanten (behoerdenuebergreifend) oder auch Externe (extern)",
			"who may be in the room: people of the tenant only (internal, without the option), of other tenants too (cross-agency) or outsiders too (external)"}}
	optAudience = Option{Key: "zielgruppe", KeyEN: "audience",
		Value: Arg{Name: "ZIELGRUPPE", NameEN: "AUDIENCE", Values: []string{"all", "leaders"}, kind: kindChoice},
		desc: phrase{
			"alle Personen (alle, ohne die Option) oder nur Moderatoren und Admins (leitung)",
			"everyone (all, without the option) or moderators and admins only (leaders)"}}
	optUser = Option{Key: "nutzer", KeyEN: "user",
		Value: Arg{Name: "KENNUNG", NameEN: "ID", kind: kindPerson},
		desc: phrase{
			"nur Einträge zu dieser Person",
			"only entries about this person"}}
	optTenant = Option{Key: "mandant", KeyEN: "tenant",
		Value: Arg{Name: "MANDANT", NameEN: "TENANT", kind: kindSlug},
		desc: phrase{
			"nur Einträge zu diesem Mandanten",
			"only entries about this tenant"}}
)

// optMaxLifetime is the retention period an admin sets for a room.
var optMaxLifetime = Option{Key: "max", KeyEN: "max", Required: true,
	Value: Arg{Name: "DAUER", NameEN: "DURATION", kind: kindText},
	desc: phrase{
		"wie lange Nachrichten höchstens bleiben: `30d` (Tage), `720h` (Stunden) oder `unbegrenzt`; nur innerhalb der Grenzen der Konfiguration (`retention.bounds`) und nie unter der Mindestfrist des Raums",
		"how long messages are kept at most: `30d` (days), `720h` (hours) or `forever`; only within the configuration's bounds (`retention.bounds`) and never below the room's minimum"}}

// optLogCount is how many entries of the deletion log to show.
var optLogCount = Option{Key: "anzahl", KeyEN: "count",
	Value: Arg{Name: "N", NameEN: "N", kind: kindCount},
	desc: phrase{
		"wie viele der neuesten Einträge, höchstens 100; ohne die Option 20",
		"how many of the newest entries, at most 100; without the option 20"}}

// optUntil is the last day of a guest's access.
var optUntil = Option{Key: "bis", KeyEN: "until",
	Value: Arg{Name: "DATUM", NameEN: "DATE", kind: kindText},
	desc: phrase{
		"letzter Tag des Zugangs, `JJJJ-MM-TT` oder `TT.MM.JJJJ`; der Zugang endet mit Ablauf dieses Tages",
		"the last day of access, `YYYY-MM-DD` or `DD.MM.YYYY`; access ends when this day is over"}}

// valueDE holds the German spellings of restricted values that differ from
// the configuration's.
var valueDE = map[string]string{
	"member":       "mitglied",
	"internal":     "intern",
	"cross-agency": "behoerdenuebergreifend",
	"external":     "extern",
	"all":          "alle",
	"leaders":      "leitung",
}

// specs is the command table. Spec.Name is filled in from EN by newTable.
var specs = newTable([]*Spec{
	{
		DE: words("hilfe"), EN: words("help"), Args: []Arg{argCommand}, Access: Read,
		Summary: tr("Zeigt die Übersicht der Befehle oder die Hilfe zu einem Befehl.",
			"Shows the overview of the commands or the help for one command."),
		Example: tr("!hilfe benutzer anlegen", "!help user add"),
	},
	{
		DE: words("status"), EN: words("status"), Access: Read,
		Summary: tr("Zeigt den Zustand des Dienstes und der Homeserver.",
			"Shows the state of the service and the homeservers."),
		Example: tr("!status", "!status"),
	},
	{
		DE: words("mandant liste"), EN: words("tenant list"), Access: Read,
		Summary: tr("Listet die Mandanten (Behörden) auf.",
			"Lists the tenants (authorities)."),
		Example: tr("!mandant liste", "!tenant list"),
	},
	{
		DE: words("mandant zeigen"), EN: words("tenant show"), Args: []Arg{argTenant}, Access: Read,
		Summary: tr("Zeigt einen Mandanten mit seinen Einheiten und Räumen.",
			"Shows a tenant with its units and rooms."),
		Example: tr("!mandant zeigen hmdis", "!tenant show hmdis"),
	},
	{
		DE: words("benutzer zeigen"), EN: words("user show"), Args: []Arg{argID}, Access: Read,
		Summary: tr("Zeigt eine Person: Konto, Mandant, Einheit und Rolle.",
			"Shows a person: account, tenant, unit and role."),
		Example: tr("!benutzer zeigen mmustermann", "!user show mmustermann"),
	},
	{
		DE: words("benutzer anlegen"), EN: words("user add"),
		Args:    []Arg{argID, argTenant, argGiven, argSurname},
		Options: []Option{optUnit, optRole}, Access: Write,
		Summary: tr("Legt eine Person an, zusätzlich zum Verzeichnis.",
			"Adds a person, on top of the directory."),
		Example: tr("!benutzer anlegen eschulz hmdis Eva Schulz einheit=lpp rolle=mitglied",
			"!user add eschulz hmdis Eva Schulz unit=lpp role=member"),
	},
	{
		DE: words("benutzer verschieben"), EN: words("user move"),
		Args: []Arg{argID, argTenant}, Options: []Option{optUnit}, Access: Write,
		Summary: tr("Verschiebt eine Person in einen anderen Mandanten oder eine andere Einheit.",
			"Moves a person to another tenant or unit."),
		Example: tr("!benutzer verschieben jfischer hmdis einheit=z",
			"!user move jfischer hmdis unit=z"),
	},
	{
		DE: words("benutzer sperren"), EN: words("user disable"),
		Args: []Arg{argID}, Options: []Option{optReason}, Access: Write, Confirm: ConfirmIssuer,
		Summary: tr("Sperrt das Konto einer Person.",
			"Disables a person's account."),
		Example: tr(`!benutzer sperren jfischer grund="Abordnung bis 30.9."`,
			`!user disable jfischer reason="seconded until 30 September"`),
	},
	{
		DE: words("benutzer entsperren"), EN: words("user enable"), Args: []Arg{argID}, Access: Write,
		Summary: tr("Hebt die Sperre des Kontos einer Person auf.",
			"Enables a disabled account again."),
		Example: tr("!benutzer entsperren jfischer", "!user enable jfischer"),
	},
	{
		DE: words("raum zeigen"), EN: words("room show"), Args: []Arg{argRoom}, Access: Read,
		Summary: tr("Zeigt einen Raum mit Klasse, Zielgruppe und Mitgliedern.",
			"Shows a room with its class, audience and members."),
		Example: tr("!raum zeigen hmdis/allgemein", "!room show hmdis/allgemein"),
	},
	{
		DE: words("raum anlegen"), EN: words("room create"),
		Args:    []Arg{argTenant, argRoomID, argRoomName},
		Options: []Option{optClass, optAudience}, Access: Write,
		Summary: tr("Legt einen Raum eines Mandanten an.",
			"Creates a room of a tenant."),
		Example: tr(`!raum anlegen hmdis lage "Lage und Einsatz" klasse=behoerdenuebergreifend zielgruppe=leitung`,
			`!room create hmdis lage "Situation and operations" class=cross-agency audience=leaders`),
	},
	{
		DE: words("raum schliessen"), EN: words("room close"), Args: []Arg{argRoom}, Access: Write, Confirm: ConfirmIssuer,
		Summary: tr("Schließt einen Raum.",
			"Closes a room."),
		Example: tr("!raum schliessen hmdis/lage", "!room close hmdis/lage"),
	},
	{
		DE: words("mitglied hinzufuegen"), EN: words("member add"), Args: []Arg{argRoom, argID}, Access: Write,
		Summary: tr("Fügt eine Person zu einem Raum hinzu.",
			"Adds a person to a room."),
		Example: tr("!mitglied hinzufuegen hmdis/lage eschmidt", "!member add hmdis/lage eschmidt"),
	},
	{
		DE: words("mitglied entfernen"), EN: words("member remove"), Args: []Arg{argRoom, argID}, Access: Write, Confirm: ConfirmIssuer,
		Summary: tr("Entfernt eine Person aus einem Raum.",
			"Removes a person from a room."),
		Example: tr("!mitglied entfernen hmdis/lage eschmidt", "!member remove hmdis/lage eschmidt"),
	},
	{
		DE: words("rolle vergeben"), EN: words("role grant"), Args: []Arg{argID, argGrantRole}, Access: Write,
		Summary: tr("Macht eine Person zum Moderator oder Admin ihres Mandanten.",
			"Makes a person a moderator or admin of their tenant."),
		Example: tr("!rolle vergeben eschmidt moderator", "!role grant eschmidt moderator"),
	},
	{
		DE: words("rolle entziehen"), EN: words("role revoke"), Args: []Arg{argID}, Access: Write,
		Summary: tr("Nimmt einer Person die Rolle Admin oder Moderator; sie ist dann Mitglied.",
			"Takes a person's admin or moderator role; they are a member then."),
		Example: tr("!rolle entziehen eschmidt", "!role revoke eschmidt"),
	},
	{
		DE: words("gast einladen"), EN: words("guest invite"),
		Args:    []Arg{argGuestRoom, argGiven, argSurname, argOrganisation, argEmail},
		Options: []Option{optUntil}, Access: Write,
		Summary: tr("Lädt eine externe Person (Käufer, Auftragnehmer, Jagdgast) in einen externen Raum ein: ein befristetes Gastkonto, das nur in diesen Raum darf. Ohne `bis` gilt es so lange wie `externals.default_validity` (Vorgabe: 90 Tage).",
			"Invites an outside person (buyer, contractor, hunting guest) into an external room: a guest account for a limited time, admitted to that room only. Without `until` it lasts `externals.default_validity` (default: 90 days)."),
		Example: tr(`!gast einladen hessenforst/holzmarkt Karl Käufer "Holz AG" karl.kaeufer@holz-ag.de bis=2027-03-31`,
			`!guest invite hessenforst/holzmarkt Karl Käufer "Holz AG" karl.kaeufer@holz-ag.de until=2027-03-31`),
	},
	{
		DE: words("gast verlaengern"), EN: words("guest extend"),
		Args: []Arg{argGuest}, Options: []Option{optUntil}, Access: Write,
		Summary: tr("Verlängert den Zugang eines Gastes bis zum angegebenen Tag (`bis` ist nötig), solange er noch nicht abgelaufen ist.",
			"Extends a guest's access to the given day (`until` is required), as long as it has not expired yet."),
		Example: tr("!gast verlaengern ext.karl.kaeufer bis=2027-06-30", "!guest extend ext.karl.kaeufer until=2027-06-30"),
	},
	{
		DE: words("gast liste"), EN: words("guest list"), Args: []Arg{argTenantOptional}, Access: Read,
		Summary: tr("Listet die Gäste mit Organisation, E-Mail, Räumen, Ablauf und Status.",
			"Lists the guests with organisation, e-mail, rooms, expiry and status."),
		Example: tr("!gast liste hessenforst", "!guest list hessenforst"),
	},
	{
		DE: words("gast entfernen"), EN: words("guest remove"), Args: []Arg{argGuest}, Access: Write, Confirm: ConfirmIssuer,
		Summary: tr("Beendet den Zugang eines Gastes sofort: er verlässt seine Räume, sein Konto wird deaktiviert.",
			"Ends a guest's access at once: they leave their rooms and their account is deactivated."),
		Example: tr("!gast entfernen ext.karl.kaeufer", "!guest remove ext.karl.kaeufer"),
	},
	{
		DE: words("aufbewahrung zeigen"), EN: words("retention show"), Args: []Arg{argRoom}, Access: Read,
		Summary: tr("Zeigt die Aufbewahrungsfristen eines Raums (höchstens, mindestens) und die Löschsperren, die ihn betreffen.",
			"Shows a room's retention periods (maximum, minimum) and the legal holds that cover it."),
		Example: tr("!aufbewahrung zeigen polizei/allgemein", "!retention show polizei/allgemein"),
	},
	{
		DE: words("aufbewahrung setzen"), EN: words("retention set"), Args: []Arg{argRoom}, Options: []Option{optMaxLifetime},
		Access: Write, Confirm: ConfirmIssuer,
		Summary: tr("Setzt die Aufbewahrungsfrist eines Raums (höchstens `max`) anstelle der Regel der Konfiguration; die Mindestfrist aus der Konfiguration bleibt.",
			"Sets a room's retention period (at most `max`) in place of the configuration's rule; the minimum from the configuration stays."),
		Example: tr("!aufbewahrung setzen hmdis/projekt max=90d", "!retention set hmdis/projekt max=90d"),
	},
	{
		DE: words("aufbewahrung zuruecksetzen"), EN: words("retention reset"), Args: []Arg{argRoom},
		Access: Write, Confirm: ConfirmIssuer,
		Summary: tr("Nimmt die mit `!aufbewahrung setzen` gesetzte Frist eines Raums zurück: es gilt wieder die Regel der Konfiguration.",
			"Takes back the period `!retention set` gave a room: the configuration's rule applies again."),
		Example: tr("!aufbewahrung zuruecksetzen hmdis/projekt", "!retention reset hmdis/projekt"),
	},
	{
		DE: words("loeschprotokoll"), EN: words("deletionlog"), Args: []Arg{argRoomFilter}, Options: []Option{optLogCount}, Access: Read,
		Summary: tr("Zeigt die neuesten Einträge des Löschprotokolls: wann welche Nachricht (Event-ID, Absender, Sendezeit) unter welcher Frist gelöscht wurde, nie den Inhalt.",
			"Shows the newest entries of the deletion log: when which message (event ID, sender, time sent) was deleted under which period, never the content."),
		Example: tr("!loeschprotokoll hmdis/projekt anzahl=50", "!deletionlog hmdis/projekt count=50"),
	},
	{
		DE: words("ablage offen"), EN: words("marks pending"), Args: []Arg{argRoomFilter}, Access: Read,
		Summary: tr("Zeigt die Markierungen zur Aktenablage (📁, `!akte`), die noch nicht abgelegt sind: wer wann markiert hat, warum es nicht ging, und ob sie die Nachricht noch halten (`records.unfiled_after`).",
			"Shows the marks for filing (📁, `!akte`) not filed yet: who marked when, why filing failed, and whether they still keep the message (`records.unfiled_after`)."),
		Example: tr("!ablage offen hmdis/allgemein", "!marks pending hmdis/allgemein"),
	},
	{
		DE: words("ablage verwerfen"), EN: words("marks clear"), Args: []Arg{argRoom, argMarkEvent}, Access: Write, Confirm: ConfirmIssuer,
		Summary: tr("Verwirft eine offene Markierung zur Aktenablage: sie wird nicht abgelegt und hält die Nachricht nicht mehr.",
			"Clears a pending mark for filing: it is not filed and no longer keeps the message."),
		Example: tr("!ablage verwerfen hmdis/allgemein $abc123", "!marks clear hmdis/allgemein $abc123"),
	},
	{
		DE: words("loeschsperre raum"), EN: words("hold room"), Args: []Arg{argRoom}, Options: []Option{optReason},
		Access: Write, Confirm: ConfirmIssuer,
		Summary: tr("Setzt eine Löschsperre auf einen Raum: nichts darin wird gelöscht, bis sie aufgehoben ist (`grund` ist nötig, z. B. ein Aktenzeichen).",
			"Puts a legal hold on a room: nothing in it is deleted until the hold is lifted (`reason` is required, e.g. a file number)."),
		Example: tr(`!loeschsperre raum polizei/allgemein grund="Az. 4 Js 123/26"`, `!hold room polizei/allgemein reason="Az. 4 Js 123/26"`),
	},
	{
		DE: words("loeschsperre person"), EN: words("hold person"), Args: []Arg{argID}, Options: []Option{optReason},
		Access: Write, Confirm: ConfirmIssuer,
		Summary: tr("Setzt eine Löschsperre auf alle Nachrichten einer Person, in allen Räumen (`grund` ist nötig).",
			"Puts a legal hold on every message a person sent, in every room (`reason` is required)."),
		Example: tr(`!loeschsperre person shartmann grund="Disziplinarverfahren 7/26"`, `!hold person shartmann reason="disciplinary case 7/26"`),
	},
	{
		DE: words("loeschsperre aufheben"), EN: words("hold lift"), Args: []Arg{argHoldNumber}, Access: Write, Confirm: ConfirmIssuer,
		Summary: tr("Hebt eine Löschsperre auf (ihre Nummer zeigt `!loeschsperre liste`): nur im Verwaltungsraum, in dem sie gesetzt wurde, nie durch die betroffene Person; eine zweite berechtigte Person bestätigt (Vier-Augen-Prinzip, `admin.four_eyes`).",
			"Lifts a legal hold (`!hold list` shows its number): only in the management room that set it, never by the person it concerns; a second admin with the right confirms (four eyes, `admin.four_eyes`)."),
		Example: tr("!loeschsperre aufheben 3", "!hold lift 3"),
	},
	{
		DE: words("loeschsperre liste"), EN: words("hold list"), Access: Read,
		Summary: tr("Zeigt die Löschsperren in Kraft: Nummer, Raum oder Person, Grund, wer sie wann gesetzt hat.",
			"Shows the legal holds in force: number, room or person, reason, who set them when."),
		Example: tr("!loeschsperre liste", "!hold list"),
	},
	{
		DE: words("foederation zeigen"), EN: words("federation show"), Access: Read,
		Summary: tr("Zeigt die Föderationsliste: welche Homeserver miteinander sprechen dürfen.",
			"Shows the federation list: which homeservers may talk to each other."),
		Example: tr("!foederation zeigen", "!federation show"),
	},
	{
		DE: words("plan"), EN: words("plan"), Access: Read,
		Summary: tr("Zeigt, was der nächste Abgleich ändern würde (wie `landesmessenger plan`).",
			"Shows what the next provisioning run would change (like `landesmessenger plan`)."),
		Example: tr("!plan", "!plan"),
	},
	{
		DE: words("protokoll"), EN: words("audit"),
		Args: []Arg{argCount}, Options: []Option{optUser, optTenant}, Access: Read,
		Summary: tr("Zeigt die letzten Einträge des Protokolls der Admin-Befehle.",
			"Shows the latest entries of the audit trail of admin commands."),
		Example: tr("!protokoll 50 mandant=hmdis", "!audit 50 tenant=hmdis"),
	},
})

func newTable(t []*Spec) []*Spec {
	for _, s := range t {
		s.Name = strings.Join(s.EN, " ")
	}
	return t
}

func words(s string) []string { return strings.Fields(s) }

func tr(de, en string) map[Lang]string { return map[Lang]string{German: de, English: en} }
