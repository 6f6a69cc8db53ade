package server

import "github.com/labstack/echo/v4"

// Routes returns the route table as Echo holds it, so that tests in
// server_test can cover every route, including ones added after the test
// was written.
func (s *Server) Routes() []*echo.Route { return s.echo.Routes() }
