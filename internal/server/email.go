package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/mail"
	"github.com/keyhold/keyhold/templates"
)

// The pages of mailed links (password reset, verification, email change)
// and the forms that mail them. A link's token is in its path: these pages
// are never stored by caches, and the request log shows their route
// pattern instead of the path (middleware_log.go).

// linkStatus is the status of a page for a link that does not work.
func linkStatus(err error) int {
	if errors.Is(err, auth.ErrLinkUnknown) {
		return http.StatusNotFound
	}
	return http.StatusGone // used or expired
}

// isLinkErr reports whether err says a link does not work.
func isLinkErr(err error) bool {
	return errors.Is(err, auth.ErrLinkUnknown) || errors.Is(err, auth.ErrLinkUsed) || errors.Is(err, auth.ErrLinkExpired)
}

func linkNoStore(c echo.Context) { c.Response().Header().Set("Cache-Control", "no-store") }

func (s *Server) forgotPage(c echo.Context) templates.ForgotPage {
	return templates.ForgotPage{Layout: s.layout(c, "Reset your password", ""), EmailOn: s.auth.EmailEnabled()}
}

func (s *Server) handleForgotForm(c echo.Context) error {
	return render(c, http.StatusOK, templates.ForgotPassword(s.forgotPage(c)))
}

// handleForgot mails a reset link. The answer is the same whether or not
// an account has the address.
func (s *Server) handleForgot(c echo.Context) error {
	p := s.forgotPage(c)
	p.Email = c.FormValue("email")
	err := s.auth.RequestPasswordReset(c.Request().Context(), p.Email, c.RealIP())
	switch code := keyhold.ErrorCode(err); code {
	case "":
		p.Sent = true
		return render(c, http.StatusOK, templates.ForgotPassword(p))
	case keyhold.EUNAVAILABLE: // email is off: the page says to ask the operator
		return render(c, http.StatusServiceUnavailable, templates.ForgotPassword(p))
	case keyhold.EINVALID, keyhold.ETOOMANY:
		if code == keyhold.ETOOMANY {
			s.log.Warn("password reset throttled", "ip", c.RealIP())
			setRetryAfter(c, err)
		}
		p.Error = keyhold.ErrorMessage(err)
		status := http.StatusUnprocessableEntity
		if code == keyhold.ETOOMANY {
			status = http.StatusTooManyRequests
		}
		return render(c, status, templates.ForgotPassword(p))
	default:
		return err
	}
}

func (s *Server) resetPage(c echo.Context) templates.ResetPage {
	return templates.ResetPage{Layout: s.layout(c, "Choose a new password", ""), Token: c.Param("token")}
}

func (s *Server) handleResetForm(c echo.Context) error {
	linkNoStore(c)
	p := s.resetPage(c)
	if err := s.auth.CheckLink(c.Request().Context(), auth.PurposePasswordReset, p.Token); err != nil {
		if !isLinkErr(err) {
			return err
		}
		p.Dead, p.Error = true, keyhold.ErrorMessage(err)
		return render(c, linkStatus(err), templates.ResetPassword(p))
	}
	return render(c, http.StatusOK, templates.ResetPassword(p))
}

// handleReset sets the new password. Every session of the account ends,
// this browser's too when it was signed in as that account: it logs in
// again with the new password.
func (s *Server) handleReset(c echo.Context) error {
	linkNoStore(c)
	p := s.resetPage(c)
	a, err := s.auth.ResetPassword(c.Request().Context(), p.Token, c.FormValue("password"), c.RealIP())
	switch {
	case isLinkErr(err):
		p.Dead, p.Error = true, keyhold.ErrorMessage(err)
		return render(c, linkStatus(err), templates.ResetPassword(p))
	case keyhold.ErrorCode(err) == keyhold.EINVALID:
		p.Error = keyhold.ErrorMessage(err)
		return render(c, http.StatusUnprocessableEntity, templates.ResetPassword(p))
	case err != nil:
		return err
	}
	s.log.Info("password reset", "user_id", a.ID)
	s.clearSessionCookie(c)
	s.addFlash(c, templates.FlashSuccess, "Your password has been changed and every session logged out. Log in with the new password.")
	return redirect(c, "/login")
}

// handleSendVerification mails the verification link again ("send it
// again" in the banner).
func (s *Server) handleSendVerification(c echo.Context) error {
	a := userFrom(c)
	err := s.auth.SendVerification(c.Request().Context(), a.ID)
	switch keyhold.ErrorCode(err) {
	case "":
		s.addFlash(c, templates.FlashSuccess, "We sent a new verification link to "+a.Email+". It works for 24 hours.")
	case keyhold.ETOOMANY:
		s.log.Warn("verification mail throttled", "user_id", a.ID)
		s.addFlash(c, templates.FlashError, keyhold.ErrorMessage(err))
	case keyhold.EINVALID, keyhold.EUNAVAILABLE:
		s.addFlash(c, templates.FlashInfo, keyhold.ErrorMessage(err))
	default:
		return err
	}
	return redirect(c, "/dashboard")
}

// tokenPage is the confirm step of a verification or email-change link.
func (s *Server) tokenPage(c echo.Context, purpose string) templates.TokenPage {
	token := c.Param("token")
	switch purpose {
	case auth.PurposeVerifyEmail:
		return templates.TokenPage{Layout: s.layout(c, "Verify your email", ""), Heading: "Verify your email address",
			Text: "Confirm that this address is yours.", Action: "/email/verify/" + token, Button: "Verify my address"}
	default:
		return templates.TokenPage{Layout: s.layout(c, "Confirm your new email", ""), Heading: "Confirm your new address",
			Text: "Your account will sign in with this address from now on; the old one gets a notice.", Action: "/email/change/" + token, Button: "Use this address"}
	}
}

func (s *Server) handleTokenForm(purpose string) echo.HandlerFunc {
	return func(c echo.Context) error {
		linkNoStore(c)
		p := s.tokenPage(c, purpose)
		if err := s.auth.CheckLink(c.Request().Context(), purpose, c.Param("token")); err != nil {
			if !isLinkErr(err) {
				return err
			}
			p.Dead, p.Error = true, keyhold.ErrorMessage(err)
			return render(c, linkStatus(err), templates.TokenConfirm(p))
		}
		return render(c, http.StatusOK, templates.TokenConfirm(p))
	}
}

// tokenFailed renders a confirm page whose link did not work, or whose
// change was refused (EINVALID, ECONFLICT).
func (s *Server) tokenFailed(c echo.Context, purpose string, err error) error {
	p := s.tokenPage(c, purpose)
	p.Dead, p.Error = true, keyhold.ErrorMessage(err)
	status := http.StatusConflict
	switch {
	case isLinkErr(err):
		status = linkStatus(err)
	case keyhold.ErrorCode(err) == keyhold.EINVALID:
		status = http.StatusGone
	case keyhold.ErrorCode(err) != keyhold.ECONFLICT:
		return err
	}
	return render(c, status, templates.TokenConfirm(p))
}

func (s *Server) handleVerifyEmail(c echo.Context) error {
	linkNoStore(c)
	a, err := s.auth.VerifyEmail(c.Request().Context(), c.Param("token"))
	if err != nil {
		return s.tokenFailed(c, auth.PurposeVerifyEmail, err)
	}
	s.log.Info("email verified", "user_id", a.ID)
	s.addFlash(c, templates.FlashSuccess, "Thank you: "+a.Email+" is verified.")
	return redirect(c, "/dashboard")
}

func (s *Server) handleEmailChangeConfirm(c echo.Context) error {
	linkNoStore(c)
	a, err := s.auth.ConfirmEmailChange(c.Request().Context(), c.Param("token"))
	if err != nil {
		return s.tokenFailed(c, auth.PurposeChangeEmail, err)
	}
	s.log.Info("email changed", "user_id", a.ID)
	s.addFlash(c, templates.FlashSuccess, "Your account now signs in with "+a.Email+".")
	return redirect(c, "/account")
}

// handleEmailChange mails a confirmation link to the new address.
func (s *Server) handleEmailChange(c echo.Context) error {
	a := userFrom(c)
	newEmail := c.FormValue("email")
	err := s.auth.RequestEmailChange(c.Request().Context(), actorOf(c), newEmail, c.FormValue("current_password"))
	code := keyhold.ErrorCode(err)
	switch code {
	case "":
		s.log.Info("email change requested", "user_id", a.ID)
		s.addFlash(c, templates.FlashSuccess, "We sent a confirmation link to the new address. Your address changes when you follow it.")
		return redirect(c, "/account")
	case keyhold.EINVALID, keyhold.ECONFLICT, keyhold.ETOOMANY, keyhold.EUNAVAILABLE:
		status := statusOf(code)
		if code == keyhold.EINVALID {
			status = http.StatusUnprocessableEntity
		}
		if code == keyhold.ETOOMANY {
			s.log.Warn("email change throttled", "user_id", a.ID, "ip", c.RealIP())
			setRetryAfter(c, err)
		}
		p := s.accountPage(c, nil)
		p.NewEmail, p.EmailError = newEmail, keyhold.ErrorMessage(err)
		return render(c, status, templates.AccountSettings(p))
	default:
		return err
	}
}

// handleAdminResetLink makes a password reset link for an account and shows
// it to the operator once.
func (s *Server) handleAdminResetLink(c echo.Context) error {
	linkNoStore(c)
	id := c.Param("id")
	token, err := s.auth.ResetLink(c.Request().Context(), actorOf(c), id)
	if err != nil {
		return err
	}
	a, err := s.auth.User(c.Request().Context(), id)
	if err != nil {
		return err
	}
	s.log.Info("password reset link made", "user_id", id, "by", userFrom(c).ID)
	return render(c, http.StatusOK, templates.AdminResetLink(templates.AdminResetLinkPage{
		Layout: s.layout(c, "Password reset link", "admin"), UserID: a.ID, Email: a.Email,
		Link: mail.Link(s.baseURL, auth.PurposePasswordReset, token), Expires: time.Now().Add(auth.ResetTTL)}))
}
