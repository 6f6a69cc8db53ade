package templates

import (
	"strconv"
	"time"
)

// NoticeMailView is what a notice mail shows: a key at 80 % or 100 % of
// its quota, or expiring in 7 days or 1 day. It names the key, never its
// secret; its link is the key's page, which carries no token.
type NoticeMailView struct {
	Kind        string // "quota" or "expiry"
	To          string
	AccountName string
	KeyName     string
	Link        string // absolute URL of the key's page (the dashboard for a shared quota)
	// Pooled: a quota notice of the account's shared quota, which all its
	// keys draw on; KeyName is then empty.
	Pooled      bool
	AccountLink string // absolute URL of /account, where notice mail is turned off
	BaseURL     string
	// quota
	Percent     int
	Used, Limit int64
	WindowEnd   time.Time
	// expiry
	ExpiresAt time.Time
	Days      int
}

// noticeCopy is the words of a notice mail.
func noticeCopy(v NoticeMailView) mailCopy {
	off := "You get this as an owner or admin of " + v.AccountName + ". Turn notice emails off on your account page: " + v.AccountLink
	if v.Kind == "expiry" {
		when := "in 7 days"
		if v.Days == 1 {
			when = "within a day"
		}
		return mailCopy{
			Subject: "Your Keyhold key " + v.KeyName + " expires " + when,
			Heading: "A key expires " + when,
			Intro: "The key " + v.KeyName + " of " + v.AccountName + " stops working on " + v.ExpiresAt.UTC().Format("Jan 2, 2006 at 15:04 UTC") +
				". Rotate it to a new secret with a later expiry, or extend its expiry on its page, before the apps that use it start getting EXPIRED.",
			Button: "Open the key",
			After:  off,
		}
	}
	if v.Pooled {
		return poolNoticeCopy(v, off)
	}
	if v.Percent >= 100 {
		return mailCopy{
			Subject: "Your Keyhold key " + v.KeyName + " has used its quota",
			Heading: "A key has used all of its quota",
			Intro: "The key " + v.KeyName + " of " + v.AccountName + " has used " + formatCount(v.Used) + " of its " + formatCount(v.Limit) +
				" calls this period. Verifications answer QUOTA_EXCEEDED until the period ends on " + v.WindowEnd.UTC().Format("Jan 2, 2006") + ", unless you upgrade.",
			Button: "Open the key",
			After:  off,
		}
	}
	return mailCopy{
		Subject: "Your Keyhold key " + v.KeyName + " has used " + strconv.Itoa(v.Percent) + " % of its quota",
		Heading: "A key has used " + strconv.Itoa(v.Percent) + " % of its quota",
		Intro: "The key " + v.KeyName + " of " + v.AccountName + " has used " + formatCount(v.Used) + " of its " + formatCount(v.Limit) +
			" calls this period, which ends on " + v.WindowEnd.UTC().Format("Jan 2, 2006") + ". Upgrade before it runs out, or its verifications will answer QUOTA_EXCEEDED.",
		Button: "Open the key",
		After:  off,
	}
}

// NoticeMail returns the subject and plain-text body of a notice mail; its
// HTML body is NoticeMailHTML(v).
func NoticeMail(v NoticeMailView) (subject, text string) {
	c := noticeCopy(v)
	text = c.Heading + "\n\n" + c.Intro + "\n\n" + c.Button + ":\n" + v.Link + "\n\n" + c.After + "\n\n-- \nKeyhold · " + v.BaseURL + "\n"
	return c.Subject, text
}

// poolNoticeCopy is the words of a notice of an account's shared quota:
// it names the account, never one key, since all of them draw on it.
func poolNoticeCopy(v NoticeMailView, off string) mailCopy {
	if v.Percent >= 100 {
		return mailCopy{
			Subject: "Your Keyhold account " + v.AccountName + " has used its shared quota",
			Heading: "Your account's shared quota is used up",
			Intro: "The keys of " + v.AccountName + " have used " + formatCount(v.Used) + " of your account's shared quota of " + formatCount(v.Limit) +
				" calls this period. Every key that draws on it answers QUOTA_EXCEEDED until the period ends on " + v.WindowEnd.UTC().Format("Jan 2, 2006") + ", unless you upgrade.",
			Button: "Open the dashboard",
			After:  off,
		}
	}
	return mailCopy{
		Subject: "Your Keyhold account " + v.AccountName + " has used " + strconv.Itoa(v.Percent) + " % of its shared quota",
		Heading: "Your account has used " + strconv.Itoa(v.Percent) + " % of its shared quota",
		Intro: "The keys of " + v.AccountName + " have used " + formatCount(v.Used) + " of your account's shared quota of " + formatCount(v.Limit) +
			" calls this period, which ends on " + v.WindowEnd.UTC().Format("Jan 2, 2006") + ". Upgrade before it runs out, or every key that draws on it will answer QUOTA_EXCEEDED.",
		Button: "Open the dashboard",
		After:  off,
	}
}
