package templates

import (
	"strconv"
	"strings"
	"time"
)

// InvitationMailView is what the invitation mail shows. Link is the one
// place its token appears.
type InvitationMailView struct {
	To          string    // the invited address
	AccountName string    // the account (team) they are invited to
	InvitedBy   string    // the inviter's email; "" when unknown
	Role        string    // the role they will have
	Link        string    // absolute URL of /invitations/{token}
	Expires     time.Time // when the link stops working
	BaseURL     string    // the portal, for the footer
}

// invitationCopy is the words of the invitation mail.
func invitationCopy(v InvitationMailView) mailCopy {
	who := "You have"
	if v.InvitedBy != "" {
		who = v.InvitedBy + " has"
	}
	days := int(time.Until(v.Expires).Round(24*time.Hour) / (24 * time.Hour))
	lasts := "7 days"
	switch {
	case days == 1:
		lasts = "1 day"
	case days > 1:
		lasts = strconv.Itoa(days) + " days"
	}
	return mailCopy{
		Subject: "Join " + v.AccountName + " on Keyhold",
		Heading: "You are invited to " + v.AccountName,
		Intro:   who + " invited " + v.To + " to join the account " + v.AccountName + " on Keyhold as " + article(v.Role) + " " + v.Role + ".",
		Button:  "Accept the invitation",
		After:   "The link works once, for " + lasts + ", and only for " + v.To + ": sign in or sign up with that address. If you did not expect this, ignore this email.",
	}
}

// article is "a" or "an" before a role's name.
func article(role string) string {
	if role != "" && strings.ContainsRune("aeiou", rune(role[0])) {
		return "an"
	}
	return "a"
}

// InvitationMail returns the subject and plain-text body of the
// invitation mail; its HTML body is InvitationMailHTML(v).
func InvitationMail(v InvitationMailView) (subject, text string) {
	c := invitationCopy(v)
	text = c.Heading + "\n\n" + c.Intro + "\n\n" + c.Button + ":\n" + v.Link + "\n\n" + c.After + "\n\n-- \nKeyhold · " + v.BaseURL + "\n"
	return c.Subject, text
}
