package server

import (
	"time"

	"github.com/labstack/echo/v4"
)

// Routes returns the route table as Echo holds it, so that tests in
// server_test can cover every route, including ones added after the test
// was written.
func (s *Server) Routes() []*echo.Route { return s.echo.Routes() }

// SetRefusalSummaryEvery makes the hot routes' refusal summary come every
// d instead of every minute; call it before the first refusal.
func (s *Server) SetRefusalSummaryEvery(d time.Duration) { s.refusals.every = d }
