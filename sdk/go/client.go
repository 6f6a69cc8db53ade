package keyhold

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// DefaultTimeout bounds each call when no WithTimeout option is given. A
// verification normally takes well under a millisecond of Keyhold's time;
// two seconds is ample, and short enough that a stalled Keyhold does not
// hold every request of your API for as long as the HTTP client would.
const DefaultTimeout = 2 * time.Second

// defaultUserAgent names this package in Keyhold's access log.
const defaultUserAgent = "keyhold-go"

// Client calls one Keyhold. It is safe for concurrent use; make one and
// share it.
type Client struct {
	baseURL   string // without a trailing slash
	verifyURL string
	tokensURL string // POST /v1/tokens
	jwksURL   string // GET /.well-known/jwks.json
	rootKey   string // for the management calls; see WithRootKey
	urlErr    error  // why the base URL given to New is unusable, or nil
	http      *http.Client
	timeout   time.Duration
	userAgent string

	verifierOnce sync.Once      // makes verifier on first need
	verifier     *TokenVerifier // the Client's own, for TokenMiddleware
}

// Option changes a Client made by New.
type Option func(*Client)

// WithHTTPClient makes the Client send its requests through h (for a proxy,
// custom TLS or instrumentation). The default is a client of its own, not
// http.DefaultClient, so that settings elsewhere in the program do not
// change it. A copy of h is used; when h says nothing about redirects
// (CheckRedirect nil), the copy follows none.
func WithHTTPClient(h *http.Client) Option {
	return func(c *Client) {
		if h != nil {
			cp := *h // the caller's client is left as it is
			if cp.CheckRedirect == nil {
				cp.CheckRedirect = noRedirects
			}
			c.http = &cp
		}
	}
}

// noRedirects stops a client at a redirect: following a 307 or 308 would
// send the key, in the body, to wherever it points.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// WithTimeout bounds each call to d, on top of the context's own deadline
// (whichever ends first). d <= 0 leaves only the context and the HTTP
// client to bound it.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) { c.timeout = d }
}

// WithUserAgent sets the User-Agent header of the Client's requests.
func WithUserAgent(ua string) Option {
	return func(c *Client) { c.userAgent = ua }
}

// New returns a Client of the Keyhold at baseURL (for example
// "https://keys.example.com", with or without a trailing slash). A base
// URL that is not an absolute http or https URL makes every call return an
// *Error wrapping ErrInvalidBaseURL, so that New fits in a variable
// declaration.
func New(baseURL string, opts ...Option) *Client {
	c := &Client{
		// Redirects are never followed (noRedirects): a redirect answer is
		// a bad answer (ErrBadAnswer).
		http:      &http.Client{CheckRedirect: noRedirects},
		timeout:   DefaultTimeout,
		userAgent: defaultUserAgent,
	}
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	switch {
	case err != nil, u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		// The URL is left out of the error: a pasted base URL may carry
		// credentials (user:password@host).
		c.urlErr = ErrInvalidBaseURL
	default:
		c.baseURL = u.String()
		c.verifyURL = u.JoinPath("v1", "verify").String()
		c.tokensURL = u.JoinPath("v1", "tokens").String()
		c.jwksURL = u.JoinPath(".well-known", "jwks.json").String()
	}
	for _, o := range opts {
		o(c)
	}
	return c
}
