package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/templates"
)

func (s *Server) accountPage(c echo.Context, errMsg string) templates.AccountPage {
	a := accountFrom(c)
	return templates.AccountPage{Layout: s.layout(c, "Account", "account"), Email: a.Email, CreatedAt: a.CreatedAt, Error: errMsg,
		Verified: a.EmailVerifiedAt != nil, EmailOn: s.auth.EmailEnabled()}
}

func (s *Server) handleAccount(c echo.Context) error {
	return render(c, http.StatusOK, templates.AccountSettings(s.accountPage(c, "")))
}

// handlePasswordChange changes the password, which ends every session of
// the account, then signs this browser in again with a fresh session.
func (s *Server) handlePasswordChange(c echo.Context) error {
	a := accountFrom(c)
	err := s.auth.ChangePassword(c.Request().Context(), actorOf(c), c.FormValue("current_password"), c.FormValue("password"))
	switch keyhold.ErrorCode(err) {
	case keyhold.EINVALID:
		return render(c, http.StatusUnprocessableEntity, templates.AccountSettings(s.accountPage(c, keyhold.ErrorMessage(err))))
	case keyhold.ETOOMANY:
		s.log.Warn("password change throttled", "account_id", a.ID, "ip", c.RealIP())
		setRetryAfter(c, err)
		return render(c, http.StatusTooManyRequests, templates.AccountSettings(s.accountPage(c, keyhold.ErrorMessage(err))))
	}
	if err != nil {
		return err
	}
	if err := s.startSession(c, a.ID); err != nil {
		return err
	}
	s.log.Info("password changed", "account_id", a.ID)
	s.addFlash(c, templates.FlashSuccess, "Password changed. Every other session has been logged out.")
	return redirect(c, "/account")
}
