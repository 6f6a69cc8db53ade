package server

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/internal/billing"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/templates"
)

// adminOutcomes are the event outcome filter's choices.
var adminOutcomes = []templates.AdminOption{
	{Value: "", Label: "Any"},
	{Value: billing.OutcomeFailed, Label: "Failed"},
	{Value: billing.OutcomeApplied, Label: "Applied"},
	{Value: billing.OutcomeIgnored, Label: "Ignored"},
	{Value: "processing", Label: "Processing"},
}

// adminEventTypes are the event type filter's choices: those billing
// handles, and the records of keyhold stripe reconcile.
var adminEventTypes = []string{
	"checkout.session.completed", "customer.subscription.created", "customer.subscription.updated",
	"customer.subscription.deleted", "invoice.paid", "invoice.payment_failed", "reconcile",
}

// handleAdminEvents is /admin/events: the Stripe webhook events received,
// filtered by outcome and type, 50 to a page.
func (s *Server) handleAdminEvents(c echo.Context) error {
	ctx := c.Request().Context()
	l := s.layout(c, "Stripe events", "admin")
	f := templates.AdminEventFilter{Outcome: c.QueryParam("outcome"), Type: strings.TrimSpace(c.QueryParam("type"))}
	page := adminPage(c)
	evs, err := s.billing.Events(ctx, billing.EventQuery{Outcome: f.Outcome, Type: f.Type, Offset: offset(page), Limit: adminPageSize + 1})
	if err != nil {
		return err
	}
	evs, more := pageOf(evs)
	filters := url.Values{"outcome": {f.Outcome}, "type": {f.Type}}
	p := templates.AdminEventsPage{Layout: l, Filter: f, Outcomes: adminOutcomes, Enabled: s.billing.WebhooksEnabled(),
		Pager: adminPager("/admin/events", filters, page, len(evs), more), Back: listURL("/admin/events", filters, page)}
	p.Types = append(p.Types, templates.AdminOption{Value: "", Label: "Any"})
	known := false
	for _, t := range adminEventTypes {
		p.Types = append(p.Types, templates.AdminOption{Value: t, Label: t})
		known = known || t == f.Type
	}
	if !known && f.Type != "" {
		p.Types = append(p.Types, templates.AdminOption{Value: f.Type, Label: f.Type})
	}
	emails := map[string]string{}
	for _, e := range evs {
		row := templates.AdminEventRow{ID: e.ID, Type: e.Type, Outcome: e.Outcome, Detail: e.Detail, AccountID: e.AccountID,
			ReceivedAt: e.ReceivedAt, DashboardURL: s.billing.EventURL(e.ID),
			CanReapply: e.Outcome == billing.OutcomeFailed && e.Payload != ""}
		if e.AccountID != "" {
			if _, ok := emails[e.AccountID]; !ok {
				emails[e.AccountID] = ""
				if a, err := s.auth.Account(ctx, e.AccountID); err == nil {
					emails[e.AccountID] = a.Name
				}
			}
			row.AccountEmail = emails[e.AccountID]
		}
		p.Events = append(p.Events, row)
	}
	return render(c, http.StatusOK, templates.AdminEvents(p))
}

// handleAdminEventReapply applies a failed event again from its kept
// payload, then returns to the list it was asked from.
func (s *Server) handleAdminEventReapply(c echo.Context) error {
	id := c.Param("id")
	back := c.FormValue("back")
	if !strings.HasPrefix(back, "/admin/events") {
		back = "/admin/events"
	}
	outcome, err := s.billing.Reapply(c.Request().Context(), actorOf(c), id)
	switch {
	case err == nil:
		s.log.Info("stripe event applied again", "event_id", id, "outcome", outcome, "by", userFrom(c).ID)
		s.addFlash(c, templates.FlashSuccess, "Event "+id+" applied again: "+outcome+".")
	case keyhold.ErrorCode(err) == keyhold.EINVALID || keyhold.ErrorCode(err) == keyhold.ENOTFOUND:
		s.addFlash(c, templates.FlashError, keyhold.ErrorMessage(err))
	default:
		// The event failed again: it stays failed, with the new error.
		s.log.Error("stripe event failed again", "event_id", id, "err", err)
		s.addFlash(c, templates.FlashError, "Event "+id+" failed again. Its error is on the list; try again later.")
	}
	return redirect(c, back)
}
