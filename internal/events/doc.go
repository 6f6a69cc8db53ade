// Package events owns Keyhold's outbound events (DESIGN.md, "Events:
// outbound webhooks and notices"): the event types and their payloads, the
// outbox an event is written to in the same transaction as the change, the
// webhook endpoints and their signing secrets, the fan-out of an event to
// the endpoints that want it, the delivery job with its retry schedule, the
// attempt log, and the rules that disable an endpoint.
//
// The transport is here too, with no database: Standard Webhooks signing
// and verification (sign.go), the check of an endpoint URL when it is
// saved (url.go), and the Sender that POSTs one signed message (send.go)
// through a dialer that refuses private, link-local, metadata and, unless
// insecure delivery is allowed, loopback addresses at connect time
// (dial.go).
//
// events is a business package: it imports neither Echo nor gorm.
package events
