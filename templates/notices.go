package templates

import (
	"math"
	"strconv"
	"time"
)

// NoticeBanner is one notice on the dashboard or a key's page: a key at
// 80 % or 100 % of its quota this period, or expiring within 7 days or 1
// day, with a forecast and its fix (data-testid="notice").
type NoticeBanner struct {
	ID      string // what POST /notices/{id}/dismiss hides
	Kind    string // "quota" or "expiry"
	Level   int    // percent (80, 100) or days (7, 1)
	KeyID   string // the key's id; the account's for a shared quota's notice
	KeyName string
	// Pool: a quota notice of the account's shared quota, which all its
	// keys draw on, not of one key; its title links to the dashboard.
	Pool bool
	Back string // the page the dismissal returns to
	// quota
	Used, Limit int64
	RunsOut     time.Time // at this pace; zero: not this period
	TooEarly    bool      // the period is too young to forecast from its pace
	WindowEnd   time.Time
	Upgrade     *NoticeUpgrade // the Checkout fix; nil: none
	Billing     bool           // no Checkout fix, but the user may bill: link to /billing
	// expiry
	ExpiresAt time.Time
	RotateURL string // the key page's rotate form with the expiry extended; "": the user may not rotate
}

// NoticeUpgrade is the plan an Upgrade fix buys through Checkout.
type NoticeUpgrade struct {
	PlanID, PlanName string
}

// noticeTone is a notice's colours: amber while there is time, red once
// the quota is used up or the key expires within a day.
func noticeTone(n NoticeBanner) string {
	if (n.Kind == "quota" && n.Level >= 100) || (n.Kind == "expiry" && n.Level <= 1) {
		return FlashError
	}
	return kindWarning
}

// percentOf is used as a whole percentage of limit, rounded down.
func percentOf(used, limit int64) int {
	if limit <= 0 {
		return 0
	}
	return int(math.Floor(float64(used) / float64(limit) * 100))
}

// noticeTitle is a notice's first sentence.
func noticeTitle(n NoticeBanner, now time.Time) string {
	name := "“" + n.KeyName + "”"
	if n.Kind == "expiry" {
		left := n.ExpiresAt.Sub(now)
		switch {
		case left < 2*time.Hour:
			return name + " expires within the hour"
		case left < 24*time.Hour:
			return name + " expires in " + strconv.Itoa(int(left/time.Hour)) + " hours"
		default:
			days := int(math.Ceil(left.Hours() / 24))
			return name + " expires in " + strconv.Itoa(days) + " days"
		}
	}
	if n.Pool {
		if n.Level >= 100 {
			return "Your account's shared quota is used up"
		}
		return "Your account's shared quota is " + strconv.Itoa(percentOf(n.Used, n.Limit)) + " % used"
	}
	if n.Level >= 100 {
		return name + " has used all of its quota"
	}
	return name + " has used " + strconv.Itoa(percentOf(n.Used, n.Limit)) + " % of its quota"
}

// noticeURL is where a notice's title leads: the key's page, or the
// dashboard, where the shared quota's bar is.
func noticeURL(n NoticeBanner) string {
	if n.Pool {
		return "/dashboard"
	}
	return keyURL(n.KeyID)
}

// noticeForecast is the sentence after the title: when the quota runs
// out at this pace, or when the key stops working.
func noticeForecast(n NoticeBanner) string {
	switch {
	case n.Kind == "expiry":
		return "It stops working on " + n.ExpiresAt.UTC().Format("Jan 2 at 15:04 UTC") + "; rotate it to a new secret with a later expiry before then."
	case n.Level >= 100 && n.Pool:
		return "All keys that draw on it answer QUOTA_EXCEEDED until " + n.WindowEnd.UTC().Format("Jan 2") + ", when the period renews."
	case n.Level >= 100:
		return "The quota is used up until " + n.WindowEnd.UTC().Format("Jan 2") + ": verifications answer QUOTA_EXCEEDED until then."
	case !n.RunsOut.IsZero():
		return "At this pace the quota runs out around " + n.RunsOut.UTC().Format("Jan 2") + "."
	case n.TooEarly:
		return "The period has only just begun: too early to forecast when it runs out. It renews on " + n.WindowEnd.UTC().Format("Jan 2") + "."
	default:
		return "At this pace it will not run out this period."
	}
}
