package command_test

import (
	"errors"
	"fmt"

	"github.com/landesmessenger/landesmessenger/bots/command"
)

func ExampleParse() {
	inv, err := command.Parse(`!benutzer sperren JFischer grund=„Abordnung bis 30.9.“`)
	if err != nil {
		panic(err)
	}
	fmt.Println(inv.Spec.Name, inv.Lang, inv.Spec.Access, inv.Spec.Confirm == command.ConfirmIssuer)
	fmt.Println(inv.Args["id"], inv.Options["reason"])
	fmt.Println(inv)
	// Output:
	// user disable de write true
	// jfischer Abordnung bis 30.9.
	// !benutzer sperren jfischer grund="Abordnung bis 30.9."
}

func ExampleParse_error() {
	for _, body := range []string{"Guten Morgen", "!user show", "!benutzr zeigen mmustermann"} {
		inv, err := command.Parse(body)
		var ue *command.UsageError
		switch {
		case errors.As(err, &ue):
			fmt.Println(ue.Lang, err)
		case inv == nil:
			fmt.Println("chat")
		}
	}
	// Output:
	// chat
	// en Usage: `!user show ID` — missing: ID
	// de Unbekannter Befehl `!benutzr`. Vielleicht `!benutzer zeigen`? Alle Befehle: `!hilfe`
}

func ExampleHelp() {
	text, err := command.Help(command.English, "rolle vergeben")
	if err != nil {
		panic(err)
	}
	fmt.Println(text)
	// Output:
	// **`!role grant ID ROLE`**
	//
	// Makes a person a moderator or admin of their tenant.
	//
	// - `ID`: the person's directory id (e.g. `mmustermann`) or Matrix ID (`@mmustermann:land.hessen.de`)
	// - `ROLE`: the new role in the tenant; allowed: `moderator`, `admin`
	//
	// Access: write (Land and tenant admins). Confirmation: none, unless the configuration requires four eyes.
	//
	// German: `!rolle vergeben KENNUNG ROLLE`
	//
	// Example: `!role grant eschmidt moderator`
}
