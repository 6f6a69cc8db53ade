package templates

import (
	"fmt"
	"strings"
	"time"
)

// MailView is what a mail shows. Link is the one place a token may appear:
// the link of the mail's own action.
type MailView struct {
	Kind      string    // auth.PurposePasswordReset, …, auth.MailEmailChanged
	To        string    // the recipient
	Link      string    // absolute URL of the action (KEYHOLD_BASE_URL); empty for a notice
	Expires   time.Time // when Link stops working
	NewEmail  string    // email_changed: the address the account moved to
	BaseURL   string    // the portal, for the footer
	ExpiresIn string    // Expires as "1 hour", "24 hours"; set by Mail
}

// mailCopy is the words of one kind of mail.
type mailCopy struct {
	Subject, Heading, Intro, Button, After string
}

// mailCopies has the words of every mail by kind.
func mailCopyOf(v MailView) (mailCopy, error) {
	switch v.Kind {
	case "password_reset":
		return mailCopy{
			Subject: "Reset your Keyhold password",
			Heading: "Reset your password",
			Intro:   "Someone (we hope you) asked to reset the password of the Keyhold account " + v.To + ". Choose a new password with the button below.",
			Button:  "Choose a new password",
			After:   "The link works once, for " + v.ExpiresIn + ". Resetting your password logs out every session. If you did not ask for this, ignore this email: your password stays as it is.",
		}, nil
	case "verify_email":
		return mailCopy{
			Subject: "Verify your email for Keyhold",
			Heading: "Verify your email address",
			Intro:   "Confirm that " + v.To + " is your address, so Keyhold can reach you about your account and API keys.",
			Button:  "Verify my address",
			After:   "The link works for " + v.ExpiresIn + ". If you did not sign up for Keyhold, ignore this email.",
		}, nil
	case "change_email":
		return mailCopy{
			Subject: "Confirm your new email for Keyhold",
			Heading: "Confirm your new address",
			Intro:   "Your Keyhold account asked to sign in with " + v.To + " from now on. Confirm the change with the button below.",
			Button:  "Confirm the new address",
			After:   "The link works for " + v.ExpiresIn + ". Until you confirm, your account keeps its old address. If you did not ask for this, ignore this email.",
		}, nil
	case "email_changed":
		return mailCopy{
			Subject: "Your Keyhold email was changed",
			Heading: "Your email address was changed",
			Intro:   "Your Keyhold account now signs in with " + v.NewEmail + " instead of " + v.To + ".",
			After:   "If you did not make this change, reset your password and write to the operator of this Keyhold at once.",
		}, nil
	}
	return mailCopy{}, fmt.Errorf("templates: no mail of kind %q", v.Kind)
}

// Mail returns the subject and plain-text body of a mail; its HTML body is
// MailHTML(v).
func Mail(v MailView) (subject, text string, err error) {
	v.ExpiresIn = expiresIn(v)
	c, err := mailCopyOf(v)
	if err != nil {
		return "", "", err
	}
	var b strings.Builder
	b.WriteString(c.Heading + "\n\n" + c.Intro + "\n\n")
	if v.Link != "" {
		b.WriteString(c.Button + ":\n" + v.Link + "\n\n")
	}
	b.WriteString(c.After + "\n\n-- \nKeyhold · " + v.BaseURL + "\n")
	return c.Subject, b.String(), nil
}

// expiresIn says how long a link lasts, in whole hours.
func expiresIn(v MailView) string {
	if v.Expires.IsZero() {
		return ""
	}
	h := int((time.Until(v.Expires) + 30*time.Minute) / time.Hour)
	if h <= 1 {
		return "1 hour"
	}
	return fmt.Sprintf("%d hours", h)
}
