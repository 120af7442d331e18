// Package provisioning will turn the declared tenants of the configuration
// (ministries, police, forestry, schools) and the staff directory into
// accounts, spaces, rooms, memberships, power levels, encryption, join rules
// and server ACLs on the homeservers, as a pure planner (current and desired
// state in, typed actions out) and a separate applier. See
// docs/architecture.md; the work is tracked in the provisioning issue.
package provisioning
