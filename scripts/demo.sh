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
# The schools' mail goes to a local mail catcher (Mailpit, loopback only).
mailcatcher_ui="${LM_MAILCATCHER_UI:-127.0.0.1:8025}"
"$bin" bridge mailcatcher --smtp "${LM_BRIDGE_RELAY:-127.0.0.1:1025}" --ui "$mailcatcher_ui" --dir "$LM_STACK_DIR/mailcatcher" &
mailcatcher_pid=$!
# From here on the stack runs: whatever ends the script stops it.
trap 'kill -TERM "$mailcatcher_pid" 2>/dev/null; wait "$mailcatcher_pid" 2>/dev/null; "$bin" stack down' EXIT
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
The schools tenant has a room bridged to two schools' mailboxes ("Schulamt
Kassel – Schulen"; Christina Schulz @cschulz on the schule homeserver is
invited): what is written there goes as mail to the schools; the mails land
in the local mail catcher at http://$mailcatcher_ui (docs/school-bridge.md).
Answer as a school by sending mail to raum-schulamt-kassel@schulbruecke.hessen.test
through the bridge's SMTP server ${LM_BRIDGE_SMTP:-127.0.0.1:2525}: as
poststelle@5678.schulen.hessen.test (a school without DKIM in the demo); school
1234 requires a DKIM signature (its demo key is internal/dkimtest/demo-1234.key,
selector "demo"), and unsigned or altered mail from it is refused.
The service account of each homeserver is @landesmessenger:SERVER_NAME; its
password is in $LM_STACK_DIR/$kind/NAME/service.password. Press Ctrl-C to stop
the service and the stack.

MSG
"$bin" serve -c "$config"
