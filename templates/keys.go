package templates

import (
	"math"
	"strconv"
	"strings"
)

// keyURL is the detail page of the key with id.
func keyURL(id string) string { return "/keys/" + id }

// maskedKey is the display form of a key: display as the handler gave it
// ("kh_live_…o5p6"), or, should a full secret ever arrive there by mistake,
// its prefix and last four characters, so a list or detail page can never
// show a secret.
func maskedKey(display string) string {
	if strings.Contains(display, "…") || len(display) <= 16 {
		return display
	}
	prefix := display[:strings.LastIndex(display, "_")+1]
	return prefix + "…" + display[len(display)-4:]
}

// statusLabel is a key status as the badge says it.
func statusLabel(status string) string {
	switch status {
	case KeyActive:
		return "Active"
	case KeyRevoked:
		return "Revoked"
	case KeyExpired:
		return "Expired"
	case "":
		return "Unknown"
	default:
		return strings.ToUpper(status[:1]) + status[1:]
	}
}

// statusBadgeClass colours a key status: active green, expired amber,
// revoked red, anything else grey.
func statusBadgeClass(status string) string {
	switch status {
	case KeyActive:
		return "badge badge-success"
	case KeyExpired:
		return "badge badge-warning"
	case KeyRevoked:
		return "badge badge-danger"
	default:
		return "badge badge-gray"
	}
}

// Usage levels of a key's quota.
const (
	usageOK   = "ok"   // under 80 %
	usageWarn = "warn" // 80 % or more
	usageOver = "over" // 100 % or more
)

// usageLevel is how close used is to quota (quota > 0).
func usageLevel(used, quota int64) string {
	switch {
	case used >= quota:
		return usageOver
	case used*100 >= quota*80:
		return usageWarn
	default:
		return usageOK
	}
}

// usageBarColour is the fill colour of a usage bar: indigo, then amber at
// 80 %, red at 100 %.
func usageBarColour(used, quota int64) string {
	switch usageLevel(used, quota) {
	case usageOver:
		return "bg-red-500"
	case usageWarn:
		return "bg-amber-500"
	default:
		return "bg-indigo-500"
	}
}

// usageTextColour is the colour of the percentage beside a usage bar.
func usageTextColour(used, quota int64) string {
	switch usageLevel(used, quota) {
	case usageOver:
		return "text-red-700"
	case usageWarn:
		return "text-amber-700"
	default:
		return "text-gray-500"
	}
}

// usageWidths are the fill widths of a usage bar in 5 % steps. They are
// literal strings so that Tailwind, which scans this file, generates them;
// the CSP forbids inline style attributes.
var usageWidths = [21]string{
	"w-0", "w-[5%]", "w-[10%]", "w-[15%]", "w-[20%]", "w-[25%]", "w-[30%]",
	"w-[35%]", "w-[40%]", "w-[45%]", "w-[50%]", "w-[55%]", "w-[60%]",
	"w-[65%]", "w-[70%]", "w-[75%]", "w-[80%]", "w-[85%]", "w-[90%]",
	"w-[95%]", "w-full",
}

// usageWidth is the width class of a usage bar: used of quota rounded to
// 5 %, at least one step when anything was used, at most full.
func usageWidth(used, quota int64) string {
	if quota <= 0 || used <= 0 {
		return usageWidths[0]
	}
	step := int(math.Round(float64(used) * 20 / float64(quota)))
	step = max(1, min(step, len(usageWidths)-1))
	return usageWidths[step]
}

// usagePercent is used of quota in whole percent, rounded down (so 79.9 %
// never reads as the amber 80 %); it may exceed 100.
func usagePercent(used, quota int64) int64 {
	if quota <= 0 {
		return 0
	}
	return int64(float64(used) * 100 / float64(quota))
}

// formatCount writes n with thousands separators: 1234567 → "1,234,567".
func formatCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// usageSummary is "512 of 1,000 (51%)", the accessible value of a bar.
func usageSummary(used, quota int64) string {
	return formatCount(used) + " of " + formatCount(quota) + " (" + strconv.FormatInt(usagePercent(used, quota), 10) + "%)"
}

// visibleScopes is how many scopes a list row shows before "+N".
const visibleScopes = 3

// scopesShownOf are the scopes a list row shows: all of them, or the first
// visibleScopes when that leaves out at least two.
func scopesShownOf(scopes []string) []string {
	return scopes[:len(scopes)-scopesHidden(scopes)]
}

// scopesHidden is how many scopes a list row leaves out, shown as "+N".
func scopesHidden(scopes []string) int {
	if len(scopes) <= visibleScopes+1 {
		return 0
	}
	return len(scopes) - visibleScopes
}

// planPhrase is "the Free plan", or "your plan" when a handler left the
// name empty.
func planPhrase(p Plan) string {
	if p.Name == "" {
		return "your plan"
	}
	return "the " + p.Name + " plan"
}

// keysUsedLine is "2 of 3 keys used on the Free plan".
func keysUsedLine(p Plan) string {
	if p.MaxKeys <= 0 {
		return plural(p.LiveKeys, "key") + " on " + planPhrase(p)
	}
	return strconv.Itoa(p.LiveKeys) + " of " + plural(p.MaxKeys, "key") + " used on " + planPhrase(p)
}

// atLimitLine is the start of the at-limit alert: "The Free plan allows 3
// keys, and you have 3."; a link to /billing follows it.
func atLimitLine(p Plan) string {
	name := "Your"
	if p.Name != "" {
		name = "The " + p.Name
	}
	return name + " plan allows " + plural(p.MaxKeys, "key") + ", and you have " + strconv.Itoa(p.LiveKeys) + "."
}

// rateLine is "10 requests/s, bursts of 20".
func rateLine(p Plan) string {
	s := formatCount(int64(p.RatePerSec)) + " requests/s"
	if p.Burst > p.RatePerSec {
		s += ", bursts of " + formatCount(int64(p.Burst))
	}
	return s
}

// rotateConfirm is the rotate form's confirmation question.
func rotateConfirm(k KeyRow) string {
	return "Rotate the secret of “" + k.Name + "”? You will see the new secret once; the old one works only for the grace period you picked."
}

// expireOldConfirm is the "expire it now" button's confirmation question.
func expireOldConfirm(k KeyRow) string {
	return "Stop the previous secret of “" + k.Name + "” now? Apps still using it start getting EXPIRED at once."
}

// revokeConfirm is the revoke form's confirmation question.
func revokeConfirm(k KeyRow) string {
	return "Revoke “" + k.Name + "”? Apps using it will stop working immediately."
}

// auditLabels name the audit actions of a key.
var auditLabels = map[string]string{
	"key.created": "Created",
	"key.renamed": "Renamed",
	"key.edited":  "Edited",
	"key.rotated": "Rotated",
	"key.revoked": "Revoked",

	"key.old_secret_expired": "Previous secret expired",
}

// auditLabel is a friendly name for an audit action: "key.rotated" →
// "Rotated"; an unknown action shows its last part, capitalised.
func auditLabel(action string) string {
	if l, ok := auditLabels[action]; ok {
		return l
	}
	last := action[strings.LastIndex(action, ".")+1:]
	if last == "" {
		return action
	}
	return strings.ToUpper(last[:1]) + strings.ReplaceAll(last[1:], "_", " ")
}

// auditDotClass colours the dot of an audit line by action.
func auditDotClass(action string) string {
	switch action {
	case "key.created":
		return "bg-emerald-500"
	case "key.rotated":
		return "bg-indigo-500"
	case "key.revoked":
		return "bg-red-500"
	default:
		return "bg-gray-400"
	}
}

// expiryChecked is the expiry choice the new-key form shows selected: the
// submitted one, else a date's "custom", else "never".
func expiryChecked(f KeyForm) string {
	switch {
	case f.Expiry != "":
		return f.Expiry
	case f.Expires != "":
		return "custom"
	}
	return "never"
}

// expiryDescribedBy links the expiry fieldset to its error, if any.
func expiryDescribedBy(errs map[string]string) string {
	if errs["expires"] != "" {
		return "key-expiry-error"
	}
	return ""
}

// newKeyFocus is the new-key form's field with autofocus: the first
// invalid one, else the name (unless the plan allows no more keys).
// keyFormFields are the key form's fields in the order they are shown.
var keyFormFields = []string{"name", "scopes", "meta", "ip_allowlist", "expires"}

func newKeyFocus(p KeyNewPage) string {
	if f := firstInvalid(p.Fields, keyFormFields...); f != "" {
		return f
	}
	if p.Plan.AtLimit() {
		return ""
	}
	return "name"
}

// expiryFocus is the expiry radio to focus when the expiry is invalid: the
// checked one, or the first when none of them is checked; "" when the
// custom date's input takes the focus.
func expiryFocus(f KeyForm, presets []int) string {
	v := expiryChecked(f)
	switch v {
	case "custom":
		return ""
	case "never":
		return v
	}
	for _, d := range presets {
		if strconv.Itoa(d) == v {
			return v
		}
	}
	if len(presets) > 0 {
		return strconv.Itoa(presets[0])
	}
	return "never"
}

// revokedByText is " by you" or " by an operator", "" when unknown.
func revokedByText(by string) string {
	if by == "" {
		return ""
	}
	return " by " + by
}

// tokenCurl is the ready curl call that exchanges a key for a token.
func tokenCurl(base string) string {
	return "curl -X POST " + strings.TrimRight(base, "/") + "/v1/tokens \\\n" +
		"  -H \"Authorization: Bearer kh_live_…\" \\\n" +
		"  -H \"Content-Type: application/json\" \\\n" +
		"  -d '{\"ttl\":300}'"
}

// shareLine is a pooled key's part of what all pooled keys used this
// period: "12% share" (0 % before any use).
func shareLine(used, poolUsed int64) string {
	return strconv.FormatInt(sharePercent(used, poolUsed), 10) + "% share"
}

// sharePercent is used of poolUsed in whole percent, at most 100 (the
// pool's count can lag a key's by a flush).
func sharePercent(used, poolUsed int64) int64 {
	if poolUsed <= 0 || used <= 0 {
		return 0
	}
	return min(usagePercent(used, poolUsed), 100)
}

// quotaTerm is how a plan's quota is named beside its number: each key's,
// or one shared by all keys.
func quotaTerm(pooled bool) string {
	if pooled {
		return "Shared quota"
	}
	return "Quota per key"
}
