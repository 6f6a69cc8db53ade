package server

import (
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/static"
)

// routes is the whole route table. Middleware order, outermost first:
// recover → request id → metrics → request log → security headers →
// compression → body limit (per group) → session → CSRF.
func (s *Server) routes() {
	e := s.echo
	e.Pre(middleware.RemoveTrailingSlashWithConfig(middleware.TrailingSlashConfig{
		RedirectCode: http.StatusMovedPermanently,
		// A path with a key in it gets no redirect, which would repeat the
		// key in Location: it goes on to routing and a 404 that does not.
		Skipper: func(c echo.Context) bool { p := c.Request().URL.Path; return keys.RedactText(p) != p },
	}))
	e.Use(middleware.Recover())
	e.Use(middleware.RequestID())
	e.Use(s.metrics.middleware)
	e.Use(s.requestLog())
	e.Use(s.securityHeaders)
	e.Use(compress())

	// Middleware is attached per route, not with Group.Use: in Echo v4
	// Group.Use also registers catch-all routes, which would send unknown
	// paths and wrong methods through the session middleware instead of
	// answering 404 and 405.

	// Operations: no session, no bodies.
	ops := []echo.MiddlewareFunc{middleware.BodyLimit("1K")}
	e.GET("/healthz", s.handleHealth, ops...)
	e.GET("/readyz", s.handleReady, ops...)
	e.GET("/metrics", s.handleMetrics, ops...)
	e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", static.Handler())), ops...)
	e.GET("/favicon.ico", func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, static.URL("favicon.svg")) }, ops...)

	// The API: no session, no cookies, no CSRF; the handler limits bodies
	// to 4 KiB itself so its refusal has the verify answer's shape.
	e.POST("/v1/verify", echo.WrapHandler(http.HandlerFunc(s.serveVerify)))
	e.POST("/v1/tokens", echo.WrapHandler(http.HandlerFunc(s.serveTokens)))
	e.GET("/.well-known/jwks.json", s.handleJWKS, ops...)
	e.GET("/.well-known/openid-configuration", s.handleOpenIDConfiguration, ops...)
	e.GET("/docs", s.handleDocs, ops...) // the API's reference: public, no session

	// Public pages: CSRF on forms, a session is optional (logged-in users
	// are sent from sign-up and log-in to the dashboard; an invitation's
	// page uses the session).
	pub := []echo.MiddlewareFunc{middleware.BodyLimit("16K"), s.csrf, s.optionalSession}
	e.GET("/", s.handleHome, pub...)
	e.GET("/signup", s.handleSignupForm, pub...)
	e.POST("/signup", s.handleSignup, pub...)
	e.GET("/login", s.handleLoginForm, pub...)
	e.POST("/login", s.handleLogin, pub...)
	// Email: forgot password, and the pages of mailed links (whose token
	// is the path's last segment; see email.go).
	e.GET("/password/forgot", s.handleForgotForm, pub...)
	e.POST("/password/forgot", s.handleForgot, pub...)
	e.GET("/password/reset/:token", s.handleResetForm, pub...)
	e.POST("/password/reset/:token", s.handleReset, pub...)
	e.GET("/email/verify/:token", s.handleTokenForm(auth.PurposeVerifyEmail), pub...)
	e.POST("/email/verify/:token", s.handleVerifyEmail, pub...)
	e.GET("/email/change/:token", s.handleTokenForm(auth.PurposeChangeEmail), pub...)
	e.POST("/email/change/:token", s.handleEmailChangeConfirm, pub...)

	// Portal pages: a live session and CSRF on every POST.
	// A suspended account gets the suspended page on all of them but
	// /logout.
	e.POST("/logout", s.handleLogout, middleware.BodyLimit("64K"), s.csrf, s.requireSession)
	app := []echo.MiddlewareFunc{middleware.BodyLimit("64K"), s.csrf, s.requireSession, s.refuseSuspended}
	// The pages of an account need the user to be in one.
	acct := slices.Concat(app, []echo.MiddlewareFunc{s.requireAccount})
	e.GET("/dashboard", s.handleDashboard, acct...)
	e.GET("/account", s.handleAccount, app...)
	e.POST("/account/password", s.handlePasswordChange, app...)
	e.POST("/account/email", s.handleEmailChange, app...)
	e.POST("/email/verify", s.handleSendVerification, app...)
	e.POST("/account/notices", s.handleNoticePrefs, app...)
	e.POST("/notices/:id/dismiss", s.handleNoticeDismiss, acct...)

	// Accounts and teams. Switching and making an account work from a
	// suspended account's page too (its user may have others); the pages
	// of an account need one (requireAccount).
	mine := []echo.MiddlewareFunc{middleware.BodyLimit("16K"), s.csrf, s.requireSession}
	e.POST("/accounts/switch", s.handleSwitch, mine...)
	e.GET("/accounts/new", s.handleAccountNew, mine...)
	e.POST("/accounts", s.handleAccountCreate, mine...)
	e.GET("/team", s.handleTeam, acct...)
	e.POST("/team/invitations", s.handleInvite, acct...)
	e.POST("/team/invitations/:id/revoke", s.handleInvitationRevoke, acct...)
	e.POST("/team/members/:user_id/role", s.handleMemberRole, acct...)
	e.POST("/team/members/:user_id/remove", s.handleMemberRemove, acct...)
	e.POST("/team/leave", s.handleLeave, acct...)
	// An invitation's link: anyone may open it; accepting signs up, logs
	// in or uses the session.
	e.GET("/invitations/:token", s.handleInvitation, pub...)
	e.POST("/invitations/:token", s.handleInvitationAccept, pub...)

	// API keys.
	e.GET("/keys", s.handleKeyList, acct...)
	e.GET("/keys/new", s.handleKeyNew, acct...)
	e.POST("/keys", s.handleKeyCreate, acct...)
	e.GET("/keys/:id", s.handleKeyShow, acct...)
	e.POST("/keys/:id", s.handleKeyUpdate, acct...)
	e.POST("/keys/:id/revoke", s.handleKeyRevoke, acct...)
	e.POST("/keys/:id/rotate", s.handleKeyRotate, acct...)
	e.POST("/keys/:id/expire-old-secret", s.handleKeyExpireOld, acct...)
	e.GET("/keys/:id/usage.csv", s.handleKeyUsageCSV, acct...)

	// Billing.
	e.GET("/billing", s.handleBilling, acct...)
	e.POST("/billing/checkout", s.handleCheckout, acct...)
	e.POST("/billing/portal", s.handlePortal, acct...)

	// Stripe webhooks: no session and no CSRF; the signature is the check.
	e.POST("/webhooks/stripe", s.handleStripeWebhook)

	// Operator console: operators only; everyone else gets 404.
	admin := []echo.MiddlewareFunc{middleware.BodyLimit("64K"), s.csrf, s.requireSession, s.requireAdmin, s.refuseSuspended}
	e.GET("/admin", s.handleAdminOverview, admin...)
	e.GET("/admin/accounts", s.handleAdminAccounts, admin...)
	e.GET("/admin/accounts/:id", s.handleAdminAccount, admin...)
	e.POST("/admin/accounts/:id/plan", s.handleAdminAccountPlan, admin...)
	e.POST("/admin/accounts/:id/suspend", s.handleAdminSuspend, admin...)
	e.POST("/admin/accounts/:id/unsuspend", s.handleAdminUnsuspend, admin...)
	e.GET("/admin/users/:id", s.handleAdminUser, admin...)
	e.POST("/admin/users/:id/promote", s.handleAdminPromote, admin...)
	e.POST("/admin/users/:id/demote", s.handleAdminDemote, admin...)
	e.POST("/admin/users/:id/reset-link", s.handleAdminResetLink, admin...)
	e.GET("/admin/keys", s.handleAdminKeys, admin...)
	e.GET("/admin/keys/:id", s.handleAdminKey, admin...)
	e.POST("/admin/keys/:id/overrides", s.handleAdminKeyOverrides, admin...)
	e.POST("/admin/keys/:id/revoke", s.handleAdminKeyRevoke, admin...)
	e.GET("/admin/events", s.handleAdminEvents, admin...)
	e.POST("/admin/events/:id/reapply", s.handleAdminEventReapply, admin...)
	e.GET("/admin/audit", s.handleAdminAudit, admin...)
	e.GET("/admin/root-keys", s.handleAdminRootKeys, admin...)
	e.POST("/admin/root-keys", s.handleAdminRootKeyCreate, admin...)
	e.POST("/admin/root-keys/:id/revoke", s.handleAdminRootKeyRevoke, admin...)
	e.GET("/admin/webhooks", s.handleAdminWebhooks, admin...)
	e.POST("/admin/webhooks", s.handleAdminWebhookCreate, admin...)
	e.GET("/admin/webhooks/:id", s.handleAdminWebhook, admin...)
	e.POST("/admin/webhooks/:id", s.handleAdminWebhookUpdate, admin...)
	e.POST("/admin/webhooks/:id/enable", s.handleAdminWebhookEnabled(true), admin...)
	e.POST("/admin/webhooks/:id/disable", s.handleAdminWebhookEnabled(false), admin...)
	e.POST("/admin/webhooks/:id/roll-secret", s.handleAdminWebhookRoll, admin...)
	e.POST("/admin/webhooks/:id/test", s.handleAdminWebhookTest, admin...)
	e.POST("/admin/webhooks/:id/delete", s.handleAdminWebhookDelete, admin...)
	e.POST("/admin/webhooks/:id/deliveries/:delivery_id/resend", s.handleAdminWebhookResend, admin...)
}
