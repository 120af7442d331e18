// Package bridge will connect schools to ministry rooms through their
// official mailboxes, on mautrix bridgev2. See docs/architecture.md.
package bridge
