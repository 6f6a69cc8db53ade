package templates

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// teamMemberURL is the path of a member's actions, e.g.
// /team/members/usr_1/role.
func teamMemberURL(userID, action string) string {
	return "/team/members/" + url.PathEscape(userID) + "/" + action
}

// teamInvitationRevokeURL is the path that revokes invitation id.
func teamInvitationRevokeURL(id string) string {
	return "/team/invitations/" + url.PathEscape(id) + "/revoke"
}

// seatsLine is the plan's member limit as people read it: "3 of 5 seats
// on the Pro plan"; "" without a limit.
func seatsLine(p TeamPage) string {
	if p.MaxMembers <= 0 {
		return ""
	}
	line := strconv.Itoa(p.Seats) + " of " + plural(p.MaxMembers, "seat")
	if p.PlanName != "" {
		line += " on the " + p.PlanName + " plan"
	}
	return line
}

// seatsFull says no one more can be invited on the plan.
func seatsFull(p TeamPage) bool { return p.MaxMembers > 0 && p.Seats >= p.MaxMembers }

// teamDescription is the team page's subtitle.
func teamDescription(p TeamPage) string {
	name := p.AccountName
	if name == "" {
		name = "this account"
	}
	return "The people who can use " + name + ", and what each of them may do."
}

// initial is the first letter of an email, upper-cased, for its avatar.
func initial(email string) string {
	for _, r := range email {
		return strings.ToUpper(string(r))
	}
	return "?"
}

// timeLeft says how long until t, the way people say it: "in 5 minutes",
// "in 3 hours", "tomorrow", "in 6 days"; a t not after now is "now".
func timeLeft(t, now time.Time) string {
	d := t.Sub(nowOr(now))
	switch {
	case d <= 0:
		return "now"
	case d < time.Hour:
		return "in " + plural(max(1, int(d/time.Minute)), "minute")
	case d < 24*time.Hour:
		return "in " + plural(int(d/time.Hour), "hour")
	case d < 48*time.Hour:
		return "tomorrow"
	default:
		// Rounded to the nearest day: a 7-day invitation made a moment
		// ago expires "in 7 days", not 6.
		return "in " + strconv.Itoa(int((d+12*time.Hour)/(24*time.Hour))) + " days"
	}
}

// removeConfirm asks before a member is removed.
func removeConfirm(m MemberRow, account string) string {
	if account == "" {
		account = "this account"
	}
	return "Remove " + m.Email + " from " + account + "? They lose access to its keys at once."
}

// leaveConfirm asks before the viewer leaves the account.
func leaveConfirm(account string) string {
	if account == "" {
		account = "this account"
	}
	return "Leave " + account + "? You lose access to its keys and usage at once; an owner or admin can invite you again."
}

// inviteLinkNote says where a new invitation's link went: emailed, or
// not, and then that it is for the viewer to send.
func inviteLinkNote(p TeamPage) string {
	switch {
	case p.Mailed:
		return "We emailed this link to " + p.NewLinkEmail + ". You can also copy it and send it yourself."
	case !p.EmailOn:
		return "Email is not set up on this Keyhold, so nothing was sent: copy the link and send it to " + p.NewLinkEmail + " yourself."
	default:
		return "The email to " + p.NewLinkEmail + " could not be sent: copy the link and send it yourself."
	}
}

// inviteButtonLabel is the invite form's button: it sends an email only
// when email is on.
func inviteButtonLabel(emailOn bool) string {
	if emailOn {
		return "Send invitation"
	}
	return "Create invitation link"
}
