package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/templates"
)

// credentials is the sign-up and log-in form.
type credentials struct {
	Email    string
	Password string
}

func credentialsForm(c echo.Context) credentials {
	return credentials{Email: c.FormValue("email"), Password: c.FormValue("password")}
}

// handleHome sends visitors where they can start.
func (s *Server) handleHome(c echo.Context) error {
	if userFrom(c) != nil {
		return c.Redirect(http.StatusSeeOther, "/dashboard")
	}
	return c.Redirect(http.StatusSeeOther, "/signup")
}

func (s *Server) handleSignupForm(c echo.Context) error {
	if userFrom(c) != nil {
		return c.Redirect(http.StatusSeeOther, "/dashboard")
	}
	return render(c, http.StatusOK, templates.Signup(templates.AuthPage{Layout: s.layout(c, "Create your account", "")}))
}

func (s *Server) handleSignup(c echo.Context) error {
	f := credentialsForm(c)
	a, err := s.auth.SignupFrom(c.Request().Context(), f.Email, f.Password, c.RealIP())
	if err != nil {
		if keyhold.ErrorCode(err) == keyhold.ETOOMANY {
			s.log.Warn("sign-up throttled", "ip", c.RealIP())
		}
		return s.authFormError(c, err, f, templates.Signup, "Create your account")
	}
	if err := s.startSession(c, a.ID); err != nil {
		return err
	}
	s.log.Info("user signed up", "user_id", a.ID)
	s.addFlash(c, templates.FlashSuccess, "Welcome to Keyhold! Create your first API key to get started.")
	return redirect(c, "/dashboard")
}

func (s *Server) handleLoginForm(c echo.Context) error {
	if userFrom(c) != nil {
		return c.Redirect(http.StatusSeeOther, "/dashboard")
	}
	return render(c, http.StatusOK, templates.Login(templates.AuthPage{Layout: s.layout(c, "Log in", "")}))
}

func (s *Server) handleLogin(c echo.Context) error {
	f := credentialsForm(c)
	a, err := s.auth.Login(c.Request().Context(), f.Email, f.Password, c.RealIP())
	if err != nil {
		if keyhold.ErrorCode(err) == keyhold.ETOOMANY {
			s.log.Warn("log-in throttled", "ip", c.RealIP())
		}
		return s.authFormError(c, err, f, templates.Login, "Log in")
	}
	if err := s.startSession(c, a.ID); err != nil {
		return err
	}
	return redirect(c, "/dashboard")
}

// authFormError re-renders a sign-up or log-in form with the user's email
// and the error's public message, with the error's status. Internal errors
// go to the error handler.
func (s *Server) authFormError(c echo.Context, err error, f credentials, page func(templates.AuthPage) templ.Component, title string) error {
	code := keyhold.ErrorCode(err)
	if code == keyhold.EINTERNAL {
		return err
	}
	status := statusOf(code)
	if code == keyhold.EINVALID {
		status = http.StatusUnprocessableEntity
	}
	setRetryAfter(c, err)
	p := templates.AuthPage{Layout: s.layout(c, title, ""), Email: f.Email}
	p.Error, p.Fields = formErrors(err)
	return render(c, status, page(p))
}

// setRetryAfter tells a throttled client, in whole seconds, when to come
// back.
func setRetryAfter(c echo.Context, err error) {
	if keyhold.ErrorCode(err) != keyhold.ETOOMANY {
		return
	}
	secs := int64((auth.RetryAfter(err) + time.Second - 1) / time.Second)
	c.Response().Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
}

func (s *Server) handleLogout(c echo.Context) error {
	if err := s.auth.Logout(c.Request().Context(), actorOf(c), sessionFrom(c).ID); err != nil {
		return err
	}
	s.clearSessionCookie(c)
	s.addFlash(c, templates.FlashInfo, "You have been logged out.")
	return redirect(c, "/login")
}
