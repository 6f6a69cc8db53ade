package server

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/static"
	"github.com/keyhold/keyhold/templates"
)

// docsContentSecurityPolicy is the policy of /docs alone: the strict one
// with style-src 'unsafe-inline' added, because Scalar, which renders the
// reference, sets styles in style attributes and <style> elements it makes
// at run time (under the strict policy Chromium refuses its <style> elements and the page is unstyled).
// Scripts, fonts, images and connections stay our own origin's: no
// 'unsafe-eval' (docs.js keeps Scalar's validator from asking), no blob:
// or worker. TestDocsBrowser fails on any violation Chromium reports.
var docsContentSecurityPolicy = strings.Replace(contentSecurityPolicy, "style-src 'self';", "style-src 'self' 'unsafe-inline';", 1)

// handleDocs serves the API reference: a page that renders
// /v1/openapi.json with the bundled Scalar, no session needed.
func (s *Server) handleDocs(c echo.Context) error {
	c.Response().Header().Set("Content-Security-Policy", docsContentSecurityPolicy)
	return render(c, http.StatusOK, templates.Docs(templates.DocsPage{
		CSS: static.URL("css/app.css"), Icon: static.URL("favicon.svg"),
		Renderer: static.URL("js/scalar-api-reference.js"), Script: static.URL("js/docs.js"),
		Spec: "/v1/openapi.json",
	}))
}
