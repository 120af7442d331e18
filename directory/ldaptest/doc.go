// Package ldaptest runs a real OpenLDAP server (slapd) for tests: on a free
// loopback port, with its own database in a temporary folder, filled from
// LDIF, and stopped by its PID when the test ends.
//
// The server holds the suffix BaseDN with the containers ou=people and
// ou=groups and two service accounts: ReaderDN, which the directory sources
// bind as, and LimitedDN, whose searches return at most two entries.
// Unpaged searches of anyone but the root DN return at most SizeLimit
// entries, so a test directory larger than that is only read in full by a
// paged search.
//
// Start needs slapd and slapadd (Debian: apt-get install slapd ldap-utils).
// It skips the test under -short and fails it, with that hint, if they are
// missing. The package runs on Linux only.
package ldaptest
