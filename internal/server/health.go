package server

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// handleHealth answers while the process is alive.
func (s *Server) handleHealth(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// handleReady answers 200 when the database answers, 503 otherwise. Redis,
// when configured, is reported ("redis": "ok" or "down") but does not make
// the instance unready: without it each instance counts limits locally, and
// taking every instance out of the load balancer would turn a degraded
// service into an outage.
func (s *Server) handleReady(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	body := map[string]string{"status": "ok", "database": "ok"}
	if s.redis != nil {
		body["redis"] = "ok"
		if err := s.redis.Ping(ctx); err != nil {
			body["redis"] = "down"
			body["status"] = "degraded"
		}
	}
	if err := s.ready(ctx); err != nil {
		s.log.Warn("not ready", "err", err)
		body["status"], body["database"] = "unavailable", "down"
		c.Response().Header().Set("Retry-After", "5")
		return c.JSON(http.StatusServiceUnavailable, body)
	}
	return c.JSON(http.StatusOK, body)
}
