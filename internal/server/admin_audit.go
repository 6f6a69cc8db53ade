package server

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/templates"
)

// adminActionOptions are the action filter's choices: every action, after
// the groups.
func adminActionOptions() []templates.AdminOption {
	opts := []templates.AdminOption{
		{Value: "", Label: "Any"},
		{Value: "account.", Label: "Accounts and log-ins"},
		{Value: "key.", Label: "Keys"},
		{Value: "plan.", Label: "Plans"},
	}
	for _, a := range audit.Actions {
		opts = append(opts, templates.AdminOption{Value: a, Label: a})
	}
	return opts
}

// handleAdminAudit is /admin/audit: the audit log, filtered by account (id
// or email), action (or group) and dates, 50 to a page.
func (s *Server) handleAdminAudit(c echo.Context) error {
	ctx := c.Request().Context()
	l := s.layout(c, "Audit log", "admin")
	f := templates.AdminAuditFilter{Account: strings.TrimSpace(c.QueryParam("account")), Action: strings.TrimSpace(c.QueryParam("action")),
		From: strings.TrimSpace(c.QueryParam("from")), To: strings.TrimSpace(c.QueryParam("to"))}
	p := templates.AdminAuditPage{Layout: l, Filter: f, Actions: adminActionOptions()}
	q := auth.AuditQuery{Action: f.Action}
	var problems []string
	if f.Account != "" {
		id, email, err := s.resolveAccount(c, f.Account)
		switch {
		case err != nil:
			return err
		case id == "":
			problems = append(problems, "No account has the email "+f.Account+".")
			q.AccountID = "-" // matches nothing
		default:
			q.AccountID, p.AccountEmail = id, email
			if strings.Contains(f.Account, "@") {
				p.Filter.Account = id // the id is what links and pages carry
			}
		}
	}
	if f.From != "" {
		if d, err := time.Parse(time.DateOnly, f.From); err == nil {
			q.From = d
		} else {
			problems = append(problems, "Enter the From date as YYYY-MM-DD.")
		}
	}
	if f.To != "" {
		if d, err := time.Parse(time.DateOnly, f.To); err == nil {
			q.To = d.AddDate(0, 0, 1) // the whole day
		} else {
			problems = append(problems, "Enter the To date as YYYY-MM-DD.")
		}
	}
	p.Error = strings.Join(problems, " ")
	page := adminPage(c)
	q.Offset, q.Limit = offset(page), adminPageSize+1
	rows, err := s.auth.AuditLog(ctx, q)
	if err != nil {
		return err
	}
	rows, more := pageOf(rows)
	filters := url.Values{"account": {p.Filter.Account}, "action": {f.Action}, "from": {f.From}, "to": {f.To}}
	p.Pager = adminPager("/admin/audit", filters, page, len(rows), more)
	for _, e := range rows {
		p.Entries = append(p.Entries, adminAuditRow(e))
	}
	return render(c, http.StatusOK, templates.AdminAudit(p))
}

// resolveAccount reads an account filter: an email (any case) or an id.
// It returns the account's id and name, or "" when no account matches;
// an email names the (first) account that user owns.
func (s *Server) resolveAccount(c echo.Context, v string) (id, email string, err error) {
	ctx := c.Request().Context()
	if strings.Contains(v, "@") {
		want := strings.ToLower(v)
		as, err := s.auth.Accounts(ctx, auth.AccountQuery{Email: want, Limit: 20})
		if err != nil {
			return "", "", err
		}
		for _, a := range as {
			if a.OwnerEmail == want {
				return a.ID, a.Name, nil
			}
		}
		return "", "", nil
	}
	a, err := s.auth.Account(ctx, v)
	if err != nil {
		// An id of a deleted account still has its entries.
		return v, "", nil
	}
	return a.ID, a.Name, nil
}
