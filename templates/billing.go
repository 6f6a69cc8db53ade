package templates

import "strings"

// Checkout outcomes, as BillingPage.Checkout carries them.
const (
	checkoutSuccess  = "success"
	checkoutCanceled = "canceled"
)

// Messages shown on the way back from Stripe Checkout. The success one must
// not claim the plan changed: that happens when Stripe's webhook arrives.
const (
	checkoutSuccessText  = "Thanks! Your payment is being confirmed by Stripe; your plan changes as soon as Stripe confirms it."
	checkoutCanceledText = "Checkout was canceled. Nothing was charged."
	paymentFailedText    = "Your last payment failed. Update your card in Manage billing to keep your plan."
)

// subscriptionLabel is a Stripe subscription status as the badge says it.
func subscriptionLabel(status string) string {
	switch status {
	case "active":
		return "Active"
	case "trialing":
		return "Trial"
	case "past_due":
		return "Payment issue"
	case "canceled":
		return "Canceled"
	case "incomplete":
		return "Awaiting payment"
	case "incomplete_expired":
		return "Expired"
	case "unpaid":
		return "Unpaid"
	case "paused":
		return "Paused"
	default:
		return statusLabel(strings.ReplaceAll(status, "_", " "))
	}
}

// subscriptionBadgeClass colours a subscription status: active green,
// trialing blue, past_due amber, unpaid red, anything else grey.
func subscriptionBadgeClass(status string) string {
	switch status {
	case "active":
		return "badge badge-success"
	case "trialing":
		return "badge badge-info"
	case "past_due":
		return "badge badge-warning"
	case "unpaid":
		return "badge badge-danger"
	default:
		return "badge badge-gray"
	}
}

// currentPlanName is the account's plan name: the page's, else the shell's,
// else "Free".
func currentPlanName(p BillingPage) string {
	return dashboardPlanName(p.Account, Plan{Name: p.Current.Name})
}

// billingIntro is the line under the page title.
func billingIntro(p BillingPage) string {
	line := "You're on the " + currentPlanName(p) + " plan."
	switch {
	case !p.Enabled && p.Current.Pooled:
		return line + " Rate limits apply to each of your keys; the monthly quota is shared by all of them."
	case !p.Enabled:
		return line + " Limits apply to each of your keys."
	case p.Subscribed:
		return line + " Your subscription is billed through Stripe."
	case upgradeTarget(p) != "":
		return line + " Upgrade any time for higher limits."
	default:
		return line
	}
}

// splitPrice splits a display price into its amount and period: "$29/mo"
// → "$29", "/mo"; a price without a period is all amount.
func splitPrice(price string) (amount, period string) {
	price = strings.TrimSpace(price)
	if i := strings.Index(price, "/"); i > 0 {
		return strings.TrimSpace(price[:i]), price[i:]
	}
	return price, ""
}

// priceAmount is the amount part of a display price.
func priceAmount(price string) string { a, _ := splitPrice(price); return a }

// pricePeriod is the period part of a display price ("/mo"), or "".
func pricePeriod(price string) string { _, p := splitPrice(price); return p }

// quotaFeature is "100,000 verifications per key per month", or for a
// pooled plan "100,000 verifications per month, shared by all keys".
func quotaFeature(c PlanCard) string {
	unit := " verifications"
	if c.MonthlyQuota == 1 {
		unit = " verification"
	}
	if c.Pooled {
		return formatCount(c.MonthlyQuota) + unit + " per month, shared by all keys"
	}
	return formatCount(c.MonthlyQuota) + unit + " per key per month"
}

// plansIntro is the line under the plans' heading: what a plan's limits
// are for, each key's or, where a plan says so, all keys' together.
func plansIntro(cards []PlanCard) string {
	pooled := 0
	for _, c := range cards {
		if c.Pooled {
			pooled++
		}
	}
	switch {
	case pooled == 0:
		return "Every key gets its own rate limit and monthly quota from your plan."
	case pooled == len(cards):
		return "Every key gets its own rate limit from your plan; the monthly quota is one, shared by all your keys."
	default:
		return "Every key gets its own rate limit from your plan. The monthly quota is each key's, or shared by all your keys where a plan says so."
	}
}

// rateFeature is "Rate limit 100/s per key (burst 200)"; the burst is left
// out when it adds nothing.
func rateFeature(c PlanCard) string {
	s := "Rate limit " + formatCount(int64(c.RatePerSec)) + "/s per key"
	if c.Burst > c.RatePerSec {
		s += " (burst " + formatCount(int64(c.Burst)) + ")"
	}
	return s
}

// keysFeature is "Up to 10 keys", or "Unlimited keys" for no limit (0).
func keysFeature(c PlanCard) string {
	if c.MaxKeys <= 0 {
		return "Unlimited keys"
	}
	return "Up to " + plural(c.MaxKeys, "key")
}

// freePlanName is the name of the plan a canceled subscription returns to:
// the catalog's first unpaid plan, else "Free".
func freePlanName(plans []PlanCard) string {
	for _, c := range plans {
		if !c.Paid && c.Name != "" {
			return c.Name
		}
	}
	return "Free"
}

// canCheckout reports whether c gets an upgrade button: a paid plan other
// than the current one, with billing configured and no live subscription
// (whose plan changes go through the portal instead).
func canCheckout(p BillingPage, c PlanCard) bool {
	return p.Enabled && !p.Subscribed && c.Paid && !c.Current
}

// upgradeTarget is the id of the first plan with an upgrade button, the one
// shown as the primary action; "" when there is none.
func upgradeTarget(p BillingPage) string {
	for _, c := range p.Plans {
		if canCheckout(p, c) {
			return c.ID
		}
	}
	return ""
}

// upgradeButtonClass makes the first upgrade button the primary action and
// any other one secondary, so the page has one clear call to action.
func upgradeButtonClass(p BillingPage, c PlanCard) string {
	if c.ID == upgradeTarget(p) {
		return "btn btn-primary w-full"
	}
	return "btn btn-secondary w-full"
}

// planGridClass lays the plan cards out in as many columns as there are
// plans (up to four), stacked on phones.
func planGridClass(n int) string {
	switch {
	case n <= 1:
		return "grid gap-5"
	case n == 2:
		return "grid gap-5 md:grid-cols-2"
	case n == 3:
		return "grid gap-5 md:grid-cols-3"
	default:
		return "grid gap-5 sm:grid-cols-2 xl:grid-cols-4"
	}
}

// planCardClass marks the current plan's card with an indigo border.
func planCardClass(c PlanCard) string {
	if c.Current {
		return "card relative flex flex-col border-indigo-600 ring-1 ring-indigo-600"
	}
	return "card relative flex flex-col"
}

// planCardTestID is "current-plan" for the current plan's card (the only
// element with it) and "plan-option" for the others.
func planCardTestID(c PlanCard) string {
	if c.Current {
		return "current-plan"
	}
	return "plan-option"
}
