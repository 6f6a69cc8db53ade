// Package templates holds Keyhold's templ components: one layout and one
// exported component per page, each taking a typed view model built by the
// handlers in internal/server. It imports no service: everything a page
// shows arrives in its view model.
package templates

import "time"

// Layout is the shell data every page needs. Handlers build it with one
// helper (server.layout) instead of filling it per page.
type Layout struct {
	Title   string   // page title, without the product name
	Account *Account // nil for anonymous pages (login, sign-up, errors)
	CSRF    string   // value for the hidden _csrf field of every form
	Flashes []Flash  // one-time messages, shown with role="alert"
	Nav     string   // active nav item: "dashboard", "keys", "billing", "account", "admin"
	Assets  Assets
}

// Account is the signed-in user as the shell shows it.
type Account struct {
	ID      string
	Email   string
	IsAdmin bool
	Plan    string // plan name, e.g. "Free"
}

// Assets are the versioned URLs of the built front-end files.
type Assets struct {
	CSS string // e.g. /static/css/app.css?v=3f2a…
	JS  string // e.g. /static/js/app.js?v=9c1b…
}

// Flash kinds.
const (
	FlashSuccess = "success"
	FlashError   = "error"
	FlashInfo    = "info"
)

// Flash is a one-time message.
type Flash struct {
	Kind    string // FlashSuccess, FlashError or FlashInfo
	Message string
}

// AuthPage is the view model of the log-in and sign-up pages.
type AuthPage struct {
	Layout
	Email string // what the user typed, re-shown after an error
	Error string // shown with role="alert" above the form; empty for none
}

// DashboardPage is the view model of /dashboard.
type DashboardPage struct {
	Layout
	BaseURL string // public URL, for the quickstart curl call
}

// AccountPage is the view model of /account.
type AccountPage struct {
	Layout
	Email     string
	CreatedAt time.Time
	Error     string // password-change error, role="alert"
}

// ErrorPage is the view model of the 404/500/… pages.
type ErrorPage struct {
	Layout
	Status  int
	Title   string
	Message string
}
