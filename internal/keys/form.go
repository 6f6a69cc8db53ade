package keys

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyhold/keyhold/internal/keyhold"
)

// Form is the key form as the owner typed it, every field raw: the new-key
// form and the settings form share it.
type Form struct {
	Name   string // field "name"
	Scopes string // field "scopes": separated by commas, spaces or newlines
	Meta   string // field "meta": a JSON object; empty for none
	// IPAllowlist is field "ip_allowlist": CIDRs or addresses separated
	// by commas, spaces or newlines; empty for none. Nil: the form had no
	// such field, and the list stays as it is.
	IPAllowlist *string
	// Expiry is field "expiry", the new-key form's preset: a number of
	// days from now (one of ExpiryPresets), "custom" for the Expires date,
	// or "never". Empty (the settings form, API clients) means the Expires
	// date when there is one, else never.
	Expiry string
	// Expires is field "expires": the last day the key works, YYYY-MM-DD,
	// UTC; it works through that whole day.
	Expires string
}

// Expiry choices of the new-key form besides a number of days.
const (
	ExpiryCustom = "custom"
	ExpiryNever  = "never"
)

// ExpiryPresets are the new-key form's "expires in" choices, in days, as
// GitHub's token form offers them: the key works through the UTC day that
// many days from today. The form pre-selects DefaultExpiryDays.
var ExpiryPresets = []int{7, 30, 90}

// DefaultExpiryDays is the preset the new-key form starts on: a key that
// is forgotten stops by itself.
const DefaultExpiryDays = 30

// ParseForm turns the key form into Settings and checks them as Create
// and Update do, reporting every field's problem at once: the error is
// EINVALID with keyhold.FieldErrors for the fields "name", "scopes",
// "meta", "ip_allowlist" and "expires" (the preset's problems are
// reported under "expires" too).
func (s *Service) ParseForm(f Form) (Settings, error) {
	var fe keyhold.FieldErrors
	meta, err := ParseMeta(f.Meta)
	fe.AddErr("meta", err)
	st := Settings{Name: f.Name, Scopes: ParseScopes(f.Scopes), Meta: meta}
	if f.IPAllowlist != nil {
		st.IPAllowlist = SplitAllowlist(*f.IPAllowlist)
	}
	st.ExpiresAt, err = s.expiryOf(f)
	fe.AddErr("expires", err)
	s.check(&st, &fe)
	fe.InOrder("name", "scopes", "meta", "ip_allowlist", "expires")
	if err := fe.Err(); err != nil {
		return Settings{}, err
	}
	return st, nil
}

// expiryOf reads the form's expiry: nil for never.
func (s *Service) expiryOf(f Form) (*time.Time, error) {
	expiry, date := strings.TrimSpace(f.Expiry), strings.TrimSpace(f.Expires)
	switch expiry {
	case ExpiryNever:
		return nil, nil
	case "", ExpiryCustom:
		if date == "" {
			if expiry == ExpiryCustom {
				return nil, keyhold.Errorf(keyhold.EINVALID, "Pick the date the key expires, or choose another option.")
			}
			return nil, nil
		}
		d, err := time.Parse(time.DateOnly, date)
		if err != nil {
			return nil, keyhold.Errorf(keyhold.EINVALID, "Enter the expiry as a date, like 2027-01-31.")
		}
		end := d.AddDate(0, 0, 1)
		return &end, nil
	}
	days, err := strconv.Atoi(expiry)
	if err != nil || !slices.Contains(ExpiryPresets, days) {
		return nil, keyhold.Errorf(keyhold.EINVALID, "Choose when the key expires: %s.", presetList())
	}
	// Through the whole last day, as a date typed in the form: the
	// settings form shows that day and saving it changes nothing.
	y, m, d := s.now().UTC().Date()
	end := time.Date(y, m, d+days+1, 0, 0, 0, 0, time.UTC)
	return &end, nil
}

func presetList() string {
	parts := make([]string, 0, len(ExpiryPresets)+2)
	for _, d := range ExpiryPresets {
		parts = append(parts, fmt.Sprintf("%d days", d))
	}
	return strings.Join(parts, ", ") + ", a date of your choice or never"
}

// ScopesInUse returns the scopes the account's live keys carry, the most
// used first (then alphabetically), for the key form to suggest.
func (s *Service) ScopesInUse(ctx context.Context, accountID string) ([]string, error) {
	ks, err := s.List(ctx, accountID)
	if err != nil {
		return nil, fmt.Errorf("keys: scopes in use: %w", err)
	}
	return scopesOf(ks), nil
}

func scopesOf(ks []*Key) []string {
	count := map[string]int{}
	for _, k := range ks {
		if k.RevokedAt != nil {
			continue
		}
		for _, sc := range k.Scopes {
			count[sc]++
		}
	}
	return slices.SortedFunc(maps.Keys(count), func(a, b string) int {
		return cmp.Or(cmp.Compare(count[b], count[a]), cmp.Compare(a, b))
	})
}

// GraceLabel says a grace period of GracePeriods in words: "none", "1
// hour", "24 hours", "7 days".
func GraceLabel(d time.Duration) string {
	switch {
	case d <= 0:
		return "none"
	case d%(24*time.Hour) == 0 && d > 24*time.Hour:
		return countOf(int(d/(24*time.Hour)), "day")
	case d%time.Hour == 0:
		return countOf(int(d/time.Hour), "hour")
	}
	return d.String()
}

func countOf(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}
