package server

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/keyhold/keyhold/static"
)

// routes is the whole route table. Middleware order, outermost first:
// recover → request id → metrics → request log → security headers → body
// limit (per group) → session → CSRF.
func (s *Server) routes() {
	e := s.echo
	e.Pre(middleware.RemoveTrailingSlashWithConfig(middleware.TrailingSlashConfig{RedirectCode: http.StatusMovedPermanently}))
	e.Use(middleware.Recover())
	e.Use(middleware.RequestID())
	e.Use(s.metrics.middleware)
	e.Use(s.requestLog())
	e.Use(s.securityHeaders)

	// Operations: no session, tiny bodies.
	ops := e.Group("", middleware.BodyLimit("1K"))
	ops.GET("/healthz", s.handleHealth)
	ops.GET("/readyz", s.handleReady)
	ops.GET("/metrics", s.handleMetrics)
	ops.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", static.Handler())))
	ops.GET("/favicon.ico", func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, static.URL("favicon.svg")) })

	// Public pages: CSRF on forms, a session is optional (logged-in users
	// are sent to the dashboard).
	pub := e.Group("", middleware.BodyLimit("16K"), s.csrf, s.optionalSession)
	pub.GET("/", s.handleHome)
	pub.GET("/signup", s.handleSignupForm)
	pub.POST("/signup", s.handleSignup)
	pub.GET("/login", s.handleLoginForm)
	pub.POST("/login", s.handleLogin)

	// Portal pages: a live session and CSRF on every POST.
	app := e.Group("", middleware.BodyLimit("64K"), s.csrf, s.requireSession)
	app.POST("/logout", s.handleLogout)
	app.GET("/dashboard", s.handleDashboard)
	app.GET("/account", s.handleAccount)
	app.POST("/account/password", s.handlePasswordChange)

	e.RouteNotFound("/*", func(c echo.Context) error { return echo.ErrNotFound })
}
