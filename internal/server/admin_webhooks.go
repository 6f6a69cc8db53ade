package server

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/internal/events"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/templates"
)

// The console lists at most this many endpoints (an instance has a
// handful), and this many attempts of an endpoint's log per page.
const (
	adminWebhookLimit  = 100
	adminAttemptsLimit = 50
)

func adminWebhookRow(e events.Endpoint) templates.AdminWebhookRow {
	return templates.AdminWebhookRow{ID: e.ID, URL: e.URL, Description: e.Description, Events: e.Events, Enabled: e.Enabled,
		DisabledReason: e.DisabledReason, FailingSince: e.FailingSince, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt}
}

func adminWebhookURL(id string) string { return "/admin/webhooks/" + url.PathEscape(id) }

// webhookForm reads the add or edit form: url, description, events (one
// value each; none: every type) and enabled.
func webhookForm(c echo.Context) (templates.AdminWebhookForm, error) {
	params, err := c.FormParams()
	if err != nil {
		return templates.AdminWebhookForm{}, keyhold.Errorf(keyhold.EINVALID, "The form could not be read; send it again.")
	}
	evs := params["events"]
	if evs == nil {
		evs = []string{}
	}
	return templates.AdminWebhookForm{URL: params.Get("url"), Description: params.Get("description"), Events: evs,
		Enabled: params.Get("enabled") == "true"}, nil
}

// handleAdminWebhooks is /admin/webhooks: every endpoint and the add
// form.
func (s *Server) handleAdminWebhooks(c echo.Context) error {
	return s.renderAdminWebhooks(c, http.StatusOK, templates.AdminWebhooksPage{Form: templates.AdminWebhookForm{Enabled: true}})
}

func (s *Server) renderAdminWebhooks(c echo.Context, status int, p templates.AdminWebhooksPage) error {
	es, err := s.webhooks.Endpoints(c.Request().Context(), events.Page{Limit: adminWebhookLimit + 1})
	if err != nil {
		return err
	}
	if len(es) > adminWebhookLimit {
		es, p.More = es[:adminWebhookLimit], true
	}
	p.Layout = s.layout(c, "Webhooks", "admin")
	p.Types = events.Types
	for _, e := range es {
		p.Endpoints = append(p.Endpoints, adminWebhookRow(e))
	}
	return render(c, status, templates.AdminWebhooks(p))
}

// handleAdminWebhookCreate adds an endpoint and answers with the list
// showing its secret once; a bad form is shown again, 422, with what is
// wrong.
func (s *Server) handleAdminWebhookCreate(c echo.Context) error {
	f, err := webhookForm(c)
	if err != nil {
		return err
	}
	e, secret, err := s.webhooks.CreateEndpoint(c.Request().Context(), actorOf(c),
		events.EndpointInput{URL: f.URL, Description: f.Description, Events: f.Events, Enabled: f.Enabled})
	if keyhold.ErrorCode(err) == keyhold.EINVALID {
		p := templates.AdminWebhooksPage{Form: f}
		p.Error, p.Fields = formErrors(err)
		return s.renderAdminWebhooks(c, http.StatusUnprocessableEntity, p)
	}
	if err != nil {
		return err
	}
	s.log.Info("webhook endpoint created", "endpoint_id", e.ID, "by", actorOf(c).UserID)
	return s.renderAdminWebhooks(c, http.StatusOK, templates.AdminWebhooksPage{Form: templates.AdminWebhookForm{Enabled: true},
		New: &templates.AdminNewWebhookSecret{EndpointID: e.ID, URL: e.URL, Secret: secret}})
}

// handleAdminWebhook is an endpoint's page: its state, actions, delivery
// log (?before=<attempt id> for older attempts) and edit form.
func (s *Server) handleAdminWebhook(c echo.Context) error {
	return s.renderAdminWebhook(c, http.StatusOK, templates.AdminWebhookPage{}, true)
}

// renderAdminWebhook fills p from the endpoint of the path and renders it;
// fillForm puts the endpoint's fields in the edit form (false when p.Form
// holds input to show again).
func (s *Server) renderAdminWebhook(c echo.Context, status int, p templates.AdminWebhookPage, fillForm bool) error {
	ctx := c.Request().Context()
	e, err := s.webhooks.Endpoint(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	before := c.QueryParam("before")
	as, err := s.webhooks.Attempts(ctx, e.ID, adminAttemptsLimit+1, before)
	if err != nil {
		return err
	}
	if len(as) > adminAttemptsLimit {
		as = as[:adminAttemptsLimit]
		p.OlderURL = adminWebhookURL(e.ID) + "?before=" + url.QueryEscape(as[len(as)-1].ID)
	}
	p.Newest = before == ""
	p.Layout = s.layout(c, "Webhook endpoint", "admin")
	p.Endpoint = adminWebhookRow(e)
	p.Types = events.Types
	if fillForm {
		p.Form = templates.AdminWebhookForm{URL: e.URL, Description: e.Description, Events: e.Events, Enabled: e.Enabled}
	}
	// Resend and the next retry are shown once per delivery, on its
	// newest attempt (the log is newest first): an older attempt's retry
	// was the attempt after it. On an older page the newest may be on a
	// page before, which shows them.
	seen := map[string]bool{}
	for _, a := range as {
		newest := !seen[a.DeliveryID]
		seen[a.DeliveryID] = true
		row := templates.AdminWebhookAttempt{ID: a.ID, DeliveryID: a.DeliveryID, EventID: a.EventID,
			EventType: a.EventType, Attempt: a.Attempt, StartedAt: a.StartedAt, StatusCode: a.StatusCode, Error: a.Error,
			Latency: a.Latency, Response: a.Response, Resend: e.Enabled && newest}
		if newest {
			row.NextRetryAt = a.NextRetryAt
		}
		p.Attempts = append(p.Attempts, row)
	}
	return render(c, status, templates.AdminWebhook(p))
}

// handleAdminWebhookUpdate saves the edit form (url, description,
// events); a bad form is shown again, 422.
func (s *Server) handleAdminWebhookUpdate(c echo.Context) error {
	f, err := webhookForm(c)
	if err != nil {
		return err
	}
	id := c.Param("id")
	_, err = s.webhooks.UpdateEndpoint(c.Request().Context(), actorOf(c), id,
		events.EndpointPatch{URL: &f.URL, Description: &f.Description, Events: &f.Events})
	if keyhold.ErrorCode(err) == keyhold.EINVALID {
		p := templates.AdminWebhookPage{Form: f}
		p.Error, p.Fields = formErrors(err)
		return s.renderAdminWebhook(c, http.StatusUnprocessableEntity, p, false)
	}
	if err != nil {
		return err
	}
	s.addFlash(c, templates.FlashSuccess, "Endpoint saved.")
	return redirect(c, adminWebhookURL(id))
}

// handleAdminWebhookEnabled enables or disables an endpoint.
func (s *Server) handleAdminWebhookEnabled(enabled bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Param("id")
		if _, err := s.webhooks.UpdateEndpoint(c.Request().Context(), actorOf(c), id, events.EndpointPatch{Enabled: &enabled}); err != nil {
			return err
		}
		if enabled {
			s.addFlash(c, templates.FlashSuccess, "Endpoint enabled. Events from now on are sent to it.")
		} else {
			s.addFlash(c, templates.FlashSuccess, "Endpoint disabled. Nothing is sent to it until you enable it.")
		}
		return redirect(c, adminWebhookURL(id))
	}
}

// handleAdminWebhookRoll rolls an endpoint's secret and answers with its
// page showing the new one once.
func (s *Server) handleAdminWebhookRoll(c echo.Context) error {
	id := c.Param("id")
	secret, err := s.webhooks.RollSecret(c.Request().Context(), actorOf(c), id)
	if err != nil {
		return err
	}
	s.log.Info("webhook secret rolled", "endpoint_id", id, "by", actorOf(c).UserID)
	e, err := s.webhooks.Endpoint(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return s.renderAdminWebhook(c, http.StatusOK, templates.AdminWebhookPage{
		New: &templates.AdminNewWebhookSecret{EndpointID: id, URL: e.URL, Secret: secret, Rolled: true}}, true)
}

// handleAdminWebhookTest sends the endpoint a test event through the
// queue; the log shows its attempt when it is made.
func (s *Server) handleAdminWebhookTest(c echo.Context) error {
	id := c.Param("id")
	if _, err := s.webhooks.SendTest(c.Request().Context(), actorOf(c), id); err != nil {
		if keyhold.ErrorCode(err) != keyhold.EINVALID {
			return err
		}
		s.addFlash(c, templates.FlashError, keyhold.ErrorMessage(err))
		return redirect(c, adminWebhookURL(id))
	}
	s.addFlash(c, templates.FlashSuccess, "Test event queued. Its attempt shows in the delivery log within a few seconds; reload to see it.")
	return redirect(c, adminWebhookURL(id))
}

// handleAdminWebhookResend sends a delivery again now.
func (s *Server) handleAdminWebhookResend(c echo.Context) error {
	id := c.Param("id")
	d, err := s.webhooks.Resend(c.Request().Context(), actorOf(c), c.Param("delivery_id"))
	if err != nil {
		if keyhold.ErrorCode(err) != keyhold.EINVALID {
			return err
		}
		s.addFlash(c, templates.FlashError, keyhold.ErrorMessage(err))
		return redirect(c, adminWebhookURL(id))
	}
	s.addFlash(c, templates.FlashSuccess, "Resent. The new attempt shows in the delivery log within a few seconds.")
	return redirect(c, adminWebhookURL(d.EndpointID))
}

// handleAdminWebhookDelete deletes an endpoint with its log.
func (s *Server) handleAdminWebhookDelete(c echo.Context) error {
	if err := s.webhooks.DeleteEndpoint(c.Request().Context(), actorOf(c), c.Param("id")); err != nil {
		return err
	}
	s.addFlash(c, templates.FlashSuccess, "Endpoint deleted, with its delivery log.")
	return redirect(c, "/admin/webhooks")
}
