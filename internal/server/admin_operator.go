package server

// The operator's actions on an account (promote, demote, suspend,
// unsuspend) and on any key (revoke), from the console's account and key
// pages. Each is one POST that redirects back with a flash; the services
// audit them.

import (
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/templates"
)

// handleAdminPromote makes an account an operator.
func (s *Server) handleAdminPromote(c echo.Context) error {
	return s.setOperator(c, true)
}

// handleAdminDemote takes an account's operator role away; an operator
// removing their own while they are the only one is refused.
func (s *Server) handleAdminDemote(c echo.Context) error {
	return s.setOperator(c, false)
}

func (s *Server) setOperator(c echo.Context, operator bool) error {
	id := c.Param("id")
	me := userFrom(c).ID
	changed, err := s.auth.SetOperator(c.Request().Context(), actorOf(c), id, operator)
	if err := s.accountActionOutcome(c, err); err != nil {
		return err
	}
	switch {
	case err != nil:
	case !changed && operator:
		s.addFlash(c, templates.FlashInfo, "This user is already an operator.")
	case !changed:
		s.addFlash(c, templates.FlashInfo, "This user is not an operator.")
	case operator:
		s.log.Info("operator promoted", "user_id", id, "by", me)
		s.addFlash(c, templates.FlashSuccess, "The user is now an operator: they see the console at /admin.")
	default:
		s.log.Info("operator demoted", "user_id", id, "by", me)
		if id == me {
			// The console is gone for this user: send them to their own pages.
			s.addFlash(c, templates.FlashSuccess, "You are no longer an operator.")
			return redirect(c, "/dashboard")
		}
		s.addFlash(c, templates.FlashSuccess, "The user is no longer an operator.")
	}
	return redirect(c, adminUserPath(id))
}

// handleAdminSuspend suspends an account: its keys answer DISABLED on
// their next verification, on every instance.
func (s *Server) handleAdminSuspend(c echo.Context) error {
	return s.setSuspended(c, true)
}

// handleAdminUnsuspend lifts an account's suspension.
func (s *Server) handleAdminUnsuspend(c echo.Context) error {
	return s.setSuspended(c, false)
}

func (s *Server) setSuspended(c echo.Context, suspended bool) error {
	id := c.Param("id")
	changed, err := s.auth.SetSuspended(c.Request().Context(), actorOf(c), id, suspended)
	if err := s.accountActionOutcome(c, err); err != nil {
		return err
	}
	switch {
	case err != nil:
	case !changed && suspended:
		s.addFlash(c, templates.FlashInfo, "This account is already suspended.")
	case !changed:
		s.addFlash(c, templates.FlashInfo, "This account is not suspended.")
	case suspended:
		s.log.Info("account suspended", "account_id", id, "by", userFrom(c).ID)
		s.addFlash(c, templates.FlashSuccess, "Account suspended. Its keys answer DISABLED from their next verification, and its members see only a page saying so.")
	default:
		s.log.Info("account unsuspended", "account_id", id, "by", userFrom(c).ID)
		s.addFlash(c, templates.FlashSuccess, "Suspension lifted. The account's keys verify again from their next verification.")
	}
	return redirect(c, adminAccountPath(id))
}

// accountActionOutcome flashes the message of a refusal the operator can
// act on (EINVALID, ECONFLICT) and returns nil for it; any other error is
// returned for the error page (ENOTFOUND: 404).
func (s *Server) accountActionOutcome(c echo.Context, err error) error {
	switch keyhold.ErrorCode(err) {
	case "":
		return nil
	case keyhold.EINVALID, keyhold.ECONFLICT:
		s.addFlash(c, templates.FlashError, keyhold.ErrorMessage(err))
		return nil
	}
	return err
}

// handleAdminKeyRevoke revokes any account's key (the form asks to
// confirm first), then goes back to the page it came from: the key's, or
// its account's (form field back, a console path).
func (s *Server) handleAdminKeyRevoke(c echo.Context) error {
	id := c.Param("id")
	k, err := s.keys.RevokeAny(c.Request().Context(), actorOf(c), id)
	switch keyhold.ErrorCode(err) {
	case "":
		s.log.Info("key revoked by operator", "key_id", id, "account_id", k.AccountID, "by", userFrom(c).ID)
		s.addFlash(c, templates.FlashSuccess, "Key "+k.Name+" ("+k.Display+") revoked. It answers REVOKED from its next verification.")
	case keyhold.EINVALID:
		s.addFlash(c, templates.FlashError, keyhold.ErrorMessage(err))
	default:
		return err
	}
	back := c.FormValue("back")
	if !consolePath(back) {
		back = "/admin/keys/" + url.PathEscape(id)
	}
	return redirect(c, back)
}

// consolePath reports whether p is a path of the console to go back to:
// never another site ("//host", "/\host") nor anything outside /admin.
func consolePath(p string) bool {
	return strings.HasPrefix(p, "/admin/") && !strings.ContainsAny(p, "\\?#") && !strings.Contains(p, "//")
}

func adminAccountPath(id string) string { return "/admin/accounts/" + url.PathEscape(id) }

func adminUserPath(id string) string { return "/admin/users/" + url.PathEscape(id) }
