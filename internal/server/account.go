package server

import (
	"github.com/keyhold/keyhold/internal/notices"

	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/templates"
)

// accountPage is /account's view; formErr, when not nil, is the password
// form's error, shown under its fields or above the form.
func (s *Server) accountPage(c echo.Context, formErr error) templates.AccountPage {
	a := userFrom(c)
	p := templates.AccountPage{Layout: s.layout(c, "Account", "account"), Email: a.Email, CreatedAt: a.CreatedAt,
		Verified: a.EmailVerifiedAt != nil, EmailOn: s.auth.EmailEnabled()}
	p.Error, p.Fields = formErrors(formErr)
	prefs, err := s.notices.Prefs(c.Request().Context(), a.ID)
	if err != nil {
		// The page still works; the boxes show the default.
		s.log.Warn("notice preferences", "user_id", a.ID, "err", err)
		prefs = notices.DefaultPrefs
	}
	p.QuotaMail, p.ExpiryMail = prefs.QuotaMail, prefs.ExpiryMail
	return p
}

func (s *Server) handleAccount(c echo.Context) error {
	return render(c, http.StatusOK, templates.AccountSettings(s.accountPage(c, nil)))
}

// handlePasswordChange changes the password, which ends every session of
// the account, then signs this browser in again with a fresh session.
func (s *Server) handlePasswordChange(c echo.Context) error {
	a := userFrom(c)
	err := s.auth.ChangePassword(c.Request().Context(), actorOf(c), c.FormValue("current_password"), c.FormValue("password"))
	switch keyhold.ErrorCode(err) {
	case keyhold.EINVALID:
		return render(c, http.StatusUnprocessableEntity, templates.AccountSettings(s.accountPage(c, err)))
	case keyhold.ETOOMANY:
		s.log.Warn("password change throttled", "user_id", a.ID, "ip", c.RealIP())
		setRetryAfter(c, err)
		return render(c, http.StatusTooManyRequests, templates.AccountSettings(s.accountPage(c, err)))
	}
	if err != nil {
		return err
	}
	if err := s.startSession(c, a.ID); err != nil {
		return err
	}
	s.log.Info("password changed", "user_id", a.ID)
	s.addFlash(c, templates.FlashSuccess, "Password changed. Every other session has been logged out.")
	return redirect(c, "/account")
}
