package homeserver

import (
	"context"
	"fmt"
	"net/http"

	"maunium.net/go/mautrix"
)

// ExemptFromRateLimits lifts the homeserver's rate limits for the service
// account where the homeserver allows it at runtime: Synapse's
// override_ratelimit admin API (otherwise creating a Land's rooms runs into
// rc_room_creation for minutes). It only writes when the override is not
// set yet. Dendrite configures exemptions in its config file
// (client_api.rate_limiting.exempt_user_ids); there it does nothing.
func ExemptFromRateLimits(ctx context.Context, conn *Conn) error {
	if conn.Implementation != Synapse {
		return nil
	}
	cli := conn.Client
	url := cli.BuildURL(mautrix.SynapseAdminURLPath{"v1", "users", cli.UserID, "override_ratelimit"})
	var cur struct {
		MessagesPerSecond *int `json:"messages_per_second"`
		BurstCount        *int `json:"burst_count"`
	}
	if _, err := cli.MakeRequest(ctx, http.MethodGet, url, nil, &cur); err != nil {
		return fmt.Errorf("homeserver %s: read rate limit override: %w", conn.Endpoint.Name, err)
	}
	if cur.MessagesPerSecond != nil && *cur.MessagesPerSecond == 0 && cur.BurstCount != nil && *cur.BurstCount == 0 {
		return nil
	}
	body := map[string]int{"messages_per_second": 0, "burst_count": 0}
	if _, err := cli.MakeRequest(ctx, http.MethodPost, url, body, nil); err != nil {
		return fmt.Errorf("homeserver %s: lift rate limits of %s: %w", conn.Endpoint.Name, cli.UserID, err)
	}
	return nil
}
