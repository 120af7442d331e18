package onboarding_test

import (
	"fmt"

	"github.com/landesmessenger/landesmessenger/bots/onboarding"
)

// A reply counts as an acknowledgement when it is the keyword alone, in any
// case, with punctuation, quotes or a ✅ around it.
func ExampleIsAcknowledgement() {
	for _, reply := range []string{"Bestätigt!", "acknowledged ✅", "bestaetigt", "nicht bestätigt", "ok"} {
		fmt.Printf("%q: %v\n", reply, onboarding.IsAcknowledgement(reply))
	}
	// Output:
	// "Bestätigt!": true
	// "acknowledged ✅": true
	// "bestaetigt": true
	// "nicht bestätigt": false
	// "ok": false
}
