// Package bots will hold the Matrix bots that run inside `landesmessenger
// serve`: the admin (provisioning) bot, onboarding with the data-protection
// instruction, offboarding, and retention with the records archive. See
// docs/architecture.md.
package bots
