// Package billing connects accounts to Stripe: it creates customers and
// Checkout and Billing Portal sessions, applies webhook events so that each
// account's plan follows its subscription, and reconciles everything from
// Stripe when a webhook was missed.
//
// Webhook events are verified with the endpoint secret, applied at most
// once (the event id is recorded in the same transaction as the effect),
// and applied so that their order of arrival does not matter: a
// subscription's state carries the creation time of the event it came
// from and an older event never overwrites it, and a canceled subscription
// never comes back (Stripe never reactivates one). Unknown event types and
// unknown prices are acknowledged and logged; our own failures answer an
// error so Stripe retries.
package billing
