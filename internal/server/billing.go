package server

import (
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/internal/billing"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/plans"
	"github.com/keyhold/keyhold/templates"
)

// maxWebhookBody bounds a Stripe event; real ones are a few KiB.
const maxWebhookBody = 512 << 10

func planCard(p *plans.Plan, current string) templates.PlanCard {
	return templates.PlanCard{ID: p.ID, Name: p.Name, Price: p.Price, RatePerSec: p.RatePerSecond, Burst: p.Burst,
		MonthlyQuota: p.MonthlyQuota, Pooled: p.Pooled(), MaxKeys: p.MaxKeys, Current: p.ID == current, Paid: !p.Free()}
}

func (s *Server) handleBilling(c echo.Context) error {
	o, err := s.billing.Overview(c.Request().Context(), accountID(c))
	if err != nil {
		return err
	}
	p := templates.BillingPage{Layout: s.layout(c, "Billing", "billing"), Enabled: s.billing.Enabled(), HasCustomer: o.HasCustomer}
	for _, pl := range s.plans.All() {
		card := planCard(pl, o.Plan.ID)
		p.Plans = append(p.Plans, card)
		if card.Current {
			p.Current = card
		}
	}
	if sub := o.Subscription; sub != nil {
		p.Status, p.PaymentState = sub.Status, sub.PaymentState
		p.Subscribed = billing.Live(sub)
		switch {
		case !p.Subscribed:
			p.CanceledAt = sub.CanceledAt
		case sub.CancelAtPeriodEnd:
			// Stripe sets canceled_at when the cancellation is asked
			// for, while the subscription stays active until the
			// period ends: the page says when it ends, not "canceled".
			p.CancelsAt = sub.PeriodEnd
		default:
			p.RenewsAt = sub.PeriodEnd
		}
	}
	switch c.QueryParam("checkout") {
	case "success", "canceled":
		p.Checkout = c.QueryParam("checkout")
	}
	return render(c, http.StatusOK, templates.Billing(p))
}

// handleCheckout sends the browser to a Stripe Checkout session for the
// chosen plan.
func (s *Server) handleCheckout(c echo.Context) error {
	url, err := s.billing.Checkout(c.Request().Context(), actorOf(c), c.FormValue("plan"))
	if err != nil {
		return s.billingError(c, err)
	}
	return redirect(c, url)
}

// handlePortal sends the browser to Stripe's Billing Portal.
func (s *Server) handlePortal(c echo.Context) error {
	url, err := s.billing.Portal(c.Request().Context(), actorOf(c))
	if err != nil {
		return s.billingError(c, err)
	}
	return redirect(c, url)
}

// billingError shows a user's billing mistake or Stripe's unavailability
// on the billing page.
func (s *Server) billingError(c echo.Context, err error) error {
	switch keyhold.ErrorCode(err) {
	case keyhold.EINVALID, keyhold.EUNAVAILABLE:
		s.addFlash(c, templates.FlashError, keyhold.ErrorMessage(err))
		return redirect(c, "/billing")
	}
	return err
}

// handleStripeWebhook applies a Stripe event. A bad signature is 400 and
// changes nothing; our own failure is 500 so Stripe retries.
func (s *Server) handleStripeWebhook(c echo.Context) error {
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxWebhookBody+1))
	if err != nil {
		return keyhold.Errorf(keyhold.EINVALID, "The body could not be read.")
	}
	if len(body) > maxWebhookBody {
		return echo.ErrStatusRequestEntityTooLarge
	}
	if err := s.billing.HandleWebhook(c.Request().Context(), body, c.Request().Header.Get("Stripe-Signature")); err != nil {
		if keyhold.ErrorCode(err) == keyhold.EINVALID {
			s.log.Warn("stripe webhook refused", "err", err)
		}
		return err
	}
	return c.JSON(http.StatusOK, map[string]bool{"received": true})
}
