package retention_test

import (
	"fmt"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/retention"
)

// The police keep messages 30 days; a legal hold on a person keeps theirs
// past that.
func ExampleDeletable() {
	cfg := &config.Retention{Tenants: map[config.TenantID]config.TenantRetention{
		"polizei": {Rule: &config.RetentionRule{MaxLifetime: 30 * 24 * time.Hour}},
	}}
	policy := retention.Resolve(cfg, "polizei/allgemein", "polizei", config.ClassInternal)
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	hold := retention.Hold{
		Scope: retention.ScopePerson, Target: "@ewache:polizei.test", Reason: "Az. 4 Js 123/26",
		SetBy: "@kwagner:land.test", SetAt: now.Add(-time.Hour),
	}
	for _, sender := range []string{"@dpolizist:polizei.test", "@ewache:polizei.test"} {
		m := retention.Message{Room: "polizei/allgemein", Sender: id.UserID(sender), SentAt: now.AddDate(0, 0, -45)}
		ok, why := retention.Deletable(m, policy, []retention.Hold{hold}, now)
		fmt.Println(policy, sender, ok, why)
	}
	// Output:
	// max_lifetime=30d @dpolizist:polizei.test true deletable: past max_lifetime
	// max_lifetime=30d @ewache:polizei.test false kept: legal hold on the sender
}
