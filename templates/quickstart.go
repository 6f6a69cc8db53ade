package templates

import (
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
	return `{
  "valid": true,
  "code": "VALID",
  "plan": ` + string(id) + `,
  "ratelimit": { "limit": ` + strconv.FormatInt(burst, 10) + `, "remaining": ` + strconv.FormatInt(burst-1, 10) + `, … },
  "quota": { "limit": ` + strconv.FormatInt(quota, 10) + `, "remaining": ` + strconv.FormatInt(quota-1, 10) + `, … }
}`
}

// snippet is one middleware example of the quickstart.
type snippet struct {
	ID    string // element id of the code, target of the copy button
	Label string // tab label
	File  string // file-ish caption above the code
	Code  string
}

// middlewareSnippets are short middlewares for an API backend that let a
// request through only when Keyhold says its X-API-Key is valid.
func middlewareSnippets(baseURL string) []snippet {
	url := verifyURL(baseURL)
	return []snippet{
		{
			ID: "snippet-go", Label: "Go", File: "middleware.go · net/http",
			Code: `// RequireKey lets a request through only with a valid Keyhold key.
func RequireKey(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := json.Marshal(map[string]string{"key": r.Header.Get("X-API-Key")})
		resp, err := http.Post("` + url + `", "application/json", bytes.NewReader(body))
		if err != nil {
			http.Error(w, "key verification unavailable", http.StatusServiceUnavailable)
			return
		}
		defer resp.Body.Close()
		var v struct{ Valid bool; Code string }
		if json.NewDecoder(resp.Body).Decode(&v) != nil || !v.Valid {
			http.Error(w, v.Code, resp.StatusCode)
			return
		}
		next.ServeHTTP(w, r)
	})
}`,
		},
		{
			ID: "snippet-node", Label: "Node.js", File: "middleware.js · Express",
			Code: `// requireKey lets a request through only with a valid Keyhold key.
export async function requireKey(req, res, next) {
  try {
    const r = await fetch("` + url + `", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ key: req.get("X-API-Key") ?? "" }),
    });
    const v = await r.json();
    if (!v.valid) return res.status(r.status).json({ error: v.code });
    req.apiKey = v;
    next();
  } catch (err) {
    next(err);
  }
}`,
		},
		{
			ID: "snippet-python", Label: "Python", File: "middleware.py · Flask",
			Code: `import requests
from functools import wraps
from flask import g, jsonify, request

def require_key(view):
    """Let a request through only with a valid Keyhold key."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        r = requests.post("` + url + `",
                          json={"key": request.headers.get("X-API-Key", "")},
                          timeout=2)
        v = r.json()
        if not v["valid"]:
            return jsonify(error=v["code"]), r.status_code
        g.api_key = v
        return view(*args, **kwargs)
    return wrapper`,
		},
	}
}
