package templates

import (
	_ "embed" // the snippets
	"encoding/json"
	"strconv"
	"strings"
)

// defaultBaseURL is used by the quickstart when a handler leaves BaseURL
// empty; it is KEYHOLD_BASE_URL's default.
const defaultBaseURL = "http://localhost:8080"

// PlaceholderKey stands for a real key in snippets that are shown before the
// user has one.
const PlaceholderKey = "kh_live_…"

// verifyURL is the /v1/verify endpoint under baseURL.
func verifyURL(baseURL string) string {
	baseURL = strings.TrimRight(strings.TrimSpace(baseURL), "/")
	if baseURL == "" {
		baseURL = defaultBaseURL
	}
	return baseURL + "/v1/verify"
}

// curlVerify is a ready-to-paste curl call of /v1/verify with key.
func curlVerify(baseURL, key string) string {
	return "curl -X POST " + verifyURL(baseURL) + " \\\n" +
		"  -H 'Content-Type: application/json' \\\n" +
		`  -d '{"key":"` + key + `"}'`
}

// verifyResponsePlaceholder is what a successful verification answers, for
// a plan whose limits are not known.
const verifyResponsePlaceholder = `{
  "valid": true,
  "code": "VALID",
  "plan": "free",
  "ratelimit": { "limit": 10, "remaining": 9, … },
  "quota": { "limit": 1000, "remaining": 999, … }
}`

// verifyResponseSample is what a first successful verification of a key
// on plan answers: its plan id, its burst as the rate limit and its
// monthly quota, each with this call taken off. A plan without both
// limits gets verifyResponsePlaceholder.
func verifyResponseSample(plan Plan) string {
	if plan.ID == "" || plan.Burst <= 0 || plan.MonthlyQuota <= 0 {
		return verifyResponsePlaceholder
	}
	id, _ := json.Marshal(plan.ID) // a string always marshals
	burst, quota := int64(plan.Burst), plan.MonthlyQuota
	scope := ""
	if plan.Pooled {
		// The answer's quota is then the account's pool: say so, as
		// /v1/verify does.
		scope = `"scope": "account", `
	}
	return `{
  "valid": true,
  "code": "VALID",
  "plan": ` + string(id) + `,
  "ratelimit": { "limit": ` + strconv.FormatInt(burst, 10) + `, "remaining": ` + strconv.FormatInt(burst-1, 10) + `, … },
  "quota": { "limit": ` + strconv.FormatInt(quota, 10) + `, "remaining": ` + strconv.FormatInt(quota-1, 10) + `, ` + scope + `… }
}`
}

// snippet is one middleware example of the quickstart.
type snippet struct {
	ID    string // element id of the code, target of the copy button
	Label string // tab label
	File  string // file-ish caption above the code
	Code  string
}

// The snippets are complete files, kept beside this one so that they read
// (and are edited) as the code they are; verifyURLMarker stands for the
// instance's verify URL. cmd/keyhold's TestSnippetsAsPasted copies each
// from a live dashboard and runs it against a live Keyhold.
var (
	//go:embed snippets/main.go.txt
	goSnippet string
	//go:embed snippets/server.js.txt
	nodeSnippet string
	//go:embed snippets/app.py.txt
	pythonSnippet string
)

const verifyURLMarker = "__KEYHOLD_VERIFY_URL__"

// middlewareSnippets are small API servers, one per language, whose
// middleware lets a request through only when Keyhold says the key it
// carries (Authorization: Bearer or X-API-Key) is valid, passes Keyhold's
// refusals on with their status, body and Retry-After / RateLimit-*
// headers, and answers 503 when Keyhold cannot answer.
func middlewareSnippets(baseURL string) []snippet {
	url := verifyURL(baseURL)
	code := func(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), verifyURLMarker, url) }
	return []snippet{
		{ID: "snippet-go", Label: "Go", File: "main.go · net/http", Code: code(goSnippet)},
		{ID: "snippet-node", Label: "Node.js", File: "server.js · Express (CommonJS)", Code: code(nodeSnippet)},
		{ID: "snippet-python", Label: "Python", File: "app.py · Flask", Code: code(pythonSnippet)},
	}
}
