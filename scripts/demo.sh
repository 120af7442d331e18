#!/usr/bin/env bash
# The Hessen demo: a Dendrite stack with the four homeservers of
# config/example.yaml in .demo (or $LM_STACK_DIR), and `landesmessenger serve`
# in the foreground. Ctrl-C stops the service, then the stack.
set -uo pipefail
cd "$(dirname "$0")/.."
export LM_STACK_DIR="${LM_STACK_DIR:-.demo}"
config="${LM_CONFIG:-config/example.yaml}"
bin=bin/landesmessenger

"$bin" config validate -c "$config" || exit 1
"$bin" stack up -c "$config" --homeserver "${LM_HOMESERVER:-dendrite}" || exit 1
# From here on the stack runs: whatever ends the script stops it.
trap '"$bin" stack down' EXIT
# Ctrl-C reaches serve too (same process group); the shell waits for it to
# shut down cleanly and then exits through the EXIT trap.
trap 'echo "stopping (Ctrl-C)"' INT TERM

kind=$(sed -n 's/.*"kind": "\(.*\)".*/\1/p' "$LM_STACK_DIR/stack.json" | head -n 1)
cat <<MSG

Point an Element client at one of the client URLs above (homeserver URL).
serve provisions the Hessen demo (config/example.yaml, config/directory.yaml):
spaces, encrypted rooms and staff accounts. Log in as a member of staff with a
user ID and its initial password from $LM_STACK_DIR/credentials.json (mode
0600, written by the first reconcile a few seconds after "ready").
On first login everyone gets the data-protection instruction from
"Landesmessenger Einweisung" in an encrypted direct chat and sees only the
welcome room until they answer "bestätigt" (docs/lifecycle.md). The Land admin
@kwagner:SERVER_NAME (password in credentials.json) then finds the encrypted
room "Landesmessenger Verwaltung (Land)": type !hilfe, !status or
!benutzer zeigen mmustermann there to drive the admin bot (docs/admin-bot.md).
The service account of each homeserver is @landesmessenger:SERVER_NAME; its
password is in $LM_STACK_DIR/$kind/NAME/service.password. Press Ctrl-C to stop
the service and the stack.

MSG
"$bin" serve -c "$config"
