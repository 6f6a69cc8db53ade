package server

// The team pages: /team (members, invitations), the header's account
// switcher and new-account form, and the invitation links. Roles are
// checked by the team service; these handlers parse, call and render.

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/team"
	"github.com/keyhold/keyhold/templates"
)

// teamPage builds /team's view for the signed-in user's current account.
func (s *Server) teamPage(c echo.Context) (templates.TeamPage, error) {
	v := visitFrom(c)
	members, invitations, err := s.team.Members(c.Request().Context(), actorOf(c))
	if err != nil {
		return templates.TeamPage{}, err
	}
	l := s.layout(c, "Team", "team")
	role := v.Current.Role
	plan := s.plans.Get(v.Current.PlanID)
	p := templates.TeamPage{Layout: l, AccountName: v.Current.AccountName, CanManage: team.Can(role, team.ManageMembers),
		EmailOn: s.auth.EmailEnabled(), MaxMembers: plan.MaxMembers, PlanName: plan.Name, Seats: len(members) + len(invitations)}
	p.InviteRoles = assignable(role)
	owners := 0
	for _, m := range members {
		if m.Role == team.Owner {
			owners++
		}
	}
	for _, m := range members {
		row := templates.MemberRow{UserID: m.UserID, Email: m.Email, Role: string(m.Role), Joined: m.CreatedAt, You: m.UserID == v.User.ID}
		// An owner is changed or removed only by an owner, and the last
		// owner by nobody: the page offers what the service would allow.
		touchable := team.Can(role, team.ManageMembers) && (m.Role != team.Owner || team.Can(role, team.ManageOwners))
		lastOwner := m.Role == team.Owner && owners == 1
		if touchable && !lastOwner {
			row.Roles = assignable(role)
			row.CanRemove = !row.You
		}
		p.Members = append(p.Members, row)
		if row.You && lastOwner {
			p.LeaveBlocked = "You are the last owner of " + v.Current.AccountName + ": make someone else an owner before you leave."
		}
	}
	for _, inv := range invitations {
		p.Invitations = append(p.Invitations, templates.InvitationRow{ID: inv.ID, Email: inv.Email, Role: string(inv.Role),
			InvitedBy: inv.InviterMail, CreatedAt: inv.CreatedAt, ExpiresAt: inv.ExpiresAt})
	}
	return p, nil
}

// assignable lists the roles a member with role may give: every role for
// an owner, all but owner for an admin, none for the rest.
func assignable(role team.Role) []string {
	var out []string
	for _, r := range team.Roles {
		if !team.Can(role, team.ManageMembers) || (r == team.Owner && !team.Can(role, team.ManageOwners)) {
			continue
		}
		out = append(out, string(r))
	}
	return out
}

func (s *Server) handleTeam(c echo.Context) error {
	p, err := s.teamPage(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, templates.Team(p))
}

// handleInvite creates an invitation and shows its link once.
func (s *Server) handleInvite(c echo.Context) error {
	email, role := c.FormValue("email"), c.FormValue("role")
	token, inv, mailed, err := s.team.Invite(c.Request().Context(), actorOf(c), email, role)
	code := keyhold.ErrorCode(err)
	switch code {
	case "":
	case keyhold.EINVALID, keyhold.ECONFLICT, keyhold.ELIMIT:
		p, perr := s.teamPage(c)
		if perr != nil {
			return perr
		}
		p.Invite = templates.InviteForm{Email: email, Role: role}
		p.Invite.Error, p.Invite.Fields = formErrors(err)
		status := http.StatusUnprocessableEntity
		if code != keyhold.EINVALID {
			status = statusOf(code)
		}
		return render(c, status, templates.Team(p))
	default:
		return err
	}
	s.log.Info("invitation created", "account_id", accountID(c), "invitation_id", inv.ID, "mailed", mailed)
	p, err := s.teamPage(c)
	if err != nil {
		return err
	}
	linkNoStore(c)
	p.NewLink, p.NewLinkEmail, p.Mailed = s.invitationLink(token), inv.Email, mailed
	return render(c, http.StatusOK, templates.Team(p))
}

// invitationLink is the link an invitation's token opens.
func (s *Server) invitationLink(token string) string {
	return strings.TrimRight(s.baseURL.String(), "/") + "/invitations/" + token
}

func (s *Server) handleInvitationRevoke(c echo.Context) error {
	if err := s.team.RevokeInvitation(c.Request().Context(), actorOf(c), c.Param("id")); err != nil {
		return err
	}
	s.addFlash(c, templates.FlashSuccess, "Invitation revoked: its link no longer works.")
	return redirect(c, "/team")
}

func (s *Server) handleMemberRole(c echo.Context) error {
	err := s.team.SetRole(c.Request().Context(), actorOf(c), c.Param("user_id"), c.FormValue("role"))
	if s.teamRefusal(c, err) {
		return redirect(c, "/team")
	}
	if err != nil {
		return err
	}
	s.addFlash(c, templates.FlashSuccess, "Role changed. It applies from their next request.")
	return redirect(c, "/team")
}

func (s *Server) handleMemberRemove(c echo.Context) error {
	err := s.team.Remove(c.Request().Context(), actorOf(c), c.Param("user_id"))
	if s.teamRefusal(c, err) {
		return redirect(c, "/team")
	}
	if err != nil {
		return err
	}
	s.addFlash(c, templates.FlashSuccess, "Member removed. They lost access to this account at once.")
	return redirect(c, "/team")
}

func (s *Server) handleLeave(c echo.Context) error {
	name := visitFrom(c).Current.AccountName
	err := s.team.Leave(c.Request().Context(), actorOf(c))
	if s.teamRefusal(c, err) {
		return redirect(c, "/team")
	}
	if err != nil {
		return err
	}
	s.addFlash(c, templates.FlashSuccess, "You left "+name+".")
	return redirect(c, "/dashboard")
}

// teamRefusal turns a refused change the user can fix (the last owner,
// a bad role) into a flash on /team, and reports whether it did. Role
// refusals (403) and unknown members (404) go to the error pages.
func (s *Server) teamRefusal(c echo.Context, err error) bool {
	switch keyhold.ErrorCode(err) {
	case keyhold.EINVALID, keyhold.ECONFLICT, keyhold.ELIMIT:
		s.addFlash(c, templates.FlashError, keyhold.ErrorMessage(err))
		return true
	}
	return false
}

// handleSwitch makes another of the user's accounts the current one.
func (s *Server) handleSwitch(c echo.Context) error {
	if err := s.auth.SwitchAccount(c.Request().Context(), visitFrom(c), c.FormValue("account_id")); err != nil {
		return err
	}
	return redirect(c, "/dashboard")
}

func (s *Server) handleAccountNew(c echo.Context) error {
	return render(c, http.StatusOK, templates.NewAccount(templates.NewAccountPage{Layout: s.layout(c, "New account", "")}))
}

// handleAccountCreate makes an account the user owns and switches to it.
func (s *Server) handleAccountCreate(c echo.Context) error {
	name := c.FormValue("name")
	a, err := s.team.CreateAccount(c.Request().Context(), actorOf(c), name)
	switch code := keyhold.ErrorCode(err); code {
	case keyhold.EINVALID, keyhold.ELIMIT:
		p := templates.NewAccountPage{Layout: s.layout(c, "New account", ""), Name: name}
		p.Error, p.Fields = formErrors(err)
		status := http.StatusForbidden // ELIMIT: a whole-form error
		if code == keyhold.EINVALID {
			status = http.StatusUnprocessableEntity
			if p.Error != "" && p.Fields == nil {
				p.Fields, p.Error = map[string]string{"name": p.Error}, ""
			}
		}
		return render(c, status, templates.NewAccount(p))
	}
	if err != nil {
		return err
	}
	if err := s.auth.SwitchAccount(c.Request().Context(), visitFrom(c), a.ID); err != nil {
		return err
	}
	s.log.Info("account created", "account_id", a.ID)
	s.addFlash(c, templates.FlashSuccess, a.Name+" is ready. Invite your team from the Team page.")
	return redirect(c, "/team")
}

// invitationPage is the view of an invitation link, for whoever opens it.
func (s *Server) invitationPage(c echo.Context, inv *team.Invitation, state string) templates.InvitationPage {
	p := templates.InvitationPage{Layout: s.layout(c, "Invitation", ""), State: state, Path: "/invitations/" + c.Param("token")}
	if inv != nil {
		p.AccountName, p.Email, p.Role, p.InvitedBy, p.ExpiresAt = inv.AccountName, inv.Email, string(inv.Role), inv.InviterMail, inv.ExpiresAt
	}
	if u := userFrom(c); u != nil {
		p.SignedInAs = u.Email
		if state == team.InvitationOpen && inv != nil && u.Email != inv.Email {
			p.State = templates.InvitationWrongUser
		}
	} else if inv != nil && state == team.InvitationOpen {
		_, err := s.auth.UserByEmail(c.Request().Context(), inv.Email)
		p.HasUser = err == nil
	}
	return p
}

func invitationStatus(state string) int {
	switch state {
	case team.InvitationOpen:
		return http.StatusOK
	case team.InvitationUnknown:
		return http.StatusNotFound
	}
	return http.StatusGone
}

// handleInvitation shows an invitation link: who invites to what, and the
// way to accept it (a button, or a sign-up or log-in form).
func (s *Server) handleInvitation(c echo.Context) error {
	linkNoStore(c)
	inv, state, err := s.team.Invitation(c.Request().Context(), c.Param("token"))
	if err != nil {
		return err
	}
	p := s.invitationPage(c, inv, state)
	status := invitationStatus(state)
	if p.State == templates.InvitationWrongUser {
		status = http.StatusForbidden
	}
	return render(c, status, templates.Invitation(p))
}

// handleInvitationAccept accepts an invitation: as the signed-in user, or
// by logging in or signing up with the invited email first (intent
// "login" or the default, sign-up through the link, which proves the
// address).
func (s *Server) handleInvitationAccept(c echo.Context) error {
	linkNoStore(c)
	ctx := c.Request().Context()
	token := c.Param("token")
	inv, state, err := s.team.Invitation(ctx, token)
	if err != nil {
		return err
	}
	if state != team.InvitationOpen {
		return render(c, invitationStatus(state), templates.Invitation(s.invitationPage(c, inv, state)))
	}
	u := userFrom(c)
	if u == nil {
		password := c.FormValue("password")
		if c.FormValue("intent") == "login" {
			u, err = s.auth.Login(ctx, inv.Email, password, c.RealIP())
		} else {
			u, err = s.auth.SignupInvited(ctx, inv.Email, password, c.RealIP())
		}
		if code := keyhold.ErrorCode(err); code != "" {
			if code == keyhold.EINTERNAL {
				return err
			}
			setRetryAfter(c, err)
			p := s.invitationPage(c, inv, state)
			p.Error, p.Fields = formErrors(err)
			status := statusOf(code)
			if code == keyhold.EINVALID {
				status = http.StatusUnprocessableEntity
			}
			return render(c, status, templates.Invitation(p))
		}
	}
	if _, err := s.team.Accept(ctx, audit.Actor{UserID: u.ID, IP: c.RealIP()}, u.Email, token); err != nil {
		code := keyhold.ErrorCode(err)
		if code == keyhold.EFORBIDDEN || code == keyhold.ECONFLICT || code == keyhold.EINVALID || code == keyhold.ELIMIT {
			p := s.invitationPage(c, inv, state)
			p.Error = keyhold.ErrorMessage(err)
			if code == keyhold.EFORBIDDEN {
				p.State = templates.InvitationWrongUser
			}
			return render(c, statusOf(code), templates.Invitation(p))
		}
		return err
	}
	if v := visitFrom(c); v != nil {
		if err := s.auth.SwitchAccount(ctx, v, inv.AccountID); err != nil {
			return err
		}
	} else if err := s.startSessionIn(c, u.ID, inv.AccountID); err != nil {
		return err
	}
	s.log.Info("invitation accepted", "account_id", inv.AccountID, "user_id", u.ID)
	s.addFlash(c, templates.FlashSuccess, "You joined "+inv.AccountName+" as "+string(inv.Role)+".")
	return redirect(c, "/dashboard")
}
