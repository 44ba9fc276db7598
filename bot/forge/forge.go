// Package forge is tcbot's only way to GitHub's REST API: sticky pull
// request comments, commit statuses, reactions, permission checks, pull
// requests and sweep issues.
//
// What it guarantees:
//
//   - Transient failures are retried inside one call: 5xx answers,
//     connection errors, 429, and primary and secondary rate limits
//     (Retry-After and X-RateLimit-Reset are honoured to the second). A call
//     never spends more than Options.MaxWait retrying; past it the call fails
//     with an error matching ErrUnavailable, so the job queue can try later.
//   - Side effects are safe to repeat. POSTs that create something (comments,
//     issues) are not replayed blindly after an answer that leaves it unknown
//     whether GitHub applied them (5xx, a broken connection): the client first
//     looks for what it meant to create. UpsertComment, UpsertIssue and
//     CloseIssue can be called again after any failure without double-posting.
//   - Writes to one repository are serialized within a Client (GitHub asks
//     integrations to do so, and it keeps find-then-create atomic); reads
//     run concurrently. A Client is safe for concurrent use.
//   - Only what tcbot wrote is tcbot's: lookups by marker (FindComment,
//     UpsertComment, UpsertIssue, CloseIssue, and the look before posting
//     again) consider only comments and issues whose author is the token's
//     own login (see Login), so anyone else's text holding a marker is never
//     taken for tcbot's, edited or closed.
//   - Every body sent fits GitHub's limit of MaxBody characters: a longer
//     one is cut (see CapBody) rather than refused.
//   - The token goes into the Authorization header and nowhere else: not into
//     errors, not into logs.
//   - Every HTTP call is counted in tcbot_github_calls_total{method,status}.
package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"golang.org/x/oauth2"
)

// DefaultAPIURL is GitHub.com's REST API.
const DefaultAPIURL = "https://api.github.com/"

// Options configure a Client. Only Token is required.
type Options struct {
	// APIURL is the REST API's base URL: https://api.github.com/ (the
	// default), https://HOST/api/v3/ for GitHub Enterprise Server, or a test
	// server's URL.
	APIURL string
	// Token authenticates every call (a personal access token or a GitHub
	// App installation token). It is never logged and never part of an error.
	Token string
	// Log receives retries and rate-limit waits; nil means logrus's standard logger.
	Log logrus.FieldLogger
	// Registerer, if not nil, gets the tcbot_github_calls_total counter.
	Registerer prometheus.Registerer
	// MaxWait is the longest one call (including every request an operation
	// like UpsertComment makes) may spend retrying; default 2m.
	MaxWait time.Duration
	// Sleep waits d or until ctx is done; tests replace it. Default: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock for retry budgets, rate-limit resets and the
	// permission cache; default time.Now.
	Now func() time.Time
	// PermissionTTL is how long a user's permission on a repository is
	// cached; default 1m.
	PermissionTTL time.Duration
	// HTTPTransport carries the requests; default a clone of
	// http.DefaultTransport with a response header timeout.
	HTTPTransport http.RoundTripper
}

// Client talks to one GitHub (or GitHub Enterprise) instance with one token.
type Client struct {
	gh      *github.Client
	log     logrus.FieldLogger
	now     func() time.Time
	sleep   func(context.Context, time.Duration) error
	maxWait time.Duration

	permTTL time.Duration
	permMu  sync.Mutex
	perms   map[string]permEntry

	writeMu sync.Mutex
	writes  map[string]chan struct{} // per lower-cased owner/name: a one-slot semaphore

	graphqlPath string        // GraphQL's endpoint, relative to the REST base URL
	asking      chan struct{} // one-slot: one Login asks GitHub at a time
	loginMu     sync.Mutex
	login       string // the token's login, once known
}

// New returns a Client for o.
func New(o Options) (*Client, error) {
	if o.Token == "" {
		return nil, errors.New("github client: empty token")
	}
	if o.APIURL == "" {
		o.APIURL = DefaultAPIURL
	}
	base, err := url.Parse(o.APIURL)
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, fmt.Errorf("github client: api url %q: want an http(s) URL such as %s", o.APIURL, DefaultAPIURL)
	}
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
	}
	if o.Log == nil {
		o.Log = logrus.StandardLogger()
	}
	if o.MaxWait <= 0 {
		o.MaxWait = 2 * time.Minute
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.PermissionTTL <= 0 {
		o.PermissionTTL = time.Minute
	}
	if o.HTTPTransport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = time.Minute
		o.HTTPTransport = t
	}
	calls, err := callCounter(o.Registerer)
	if err != nil {
		return nil, err
	}

	c := &Client{
		log:     o.Log,
		now:     o.Now,
		sleep:   o.Sleep,
		maxWait: o.MaxWait,
		permTTL: o.PermissionTTL,
		perms:   map[string]permEntry{},
		writes:  map[string]chan struct{}{},
		asking:  make(chan struct{}, 1),
		// https://api.github.com/graphql; https://HOST/api/graphql on GitHub
		// Enterprise Server, whose REST API is at https://HOST/api/v3/.
		graphqlPath: "graphql",
	}
	if strings.HasSuffix(base.Path, "/api/v3/") {
		c.graphqlPath = "../graphql"
	}
	retry := &retryTransport{
		base:    o.HTTPTransport,
		log:     o.Log,
		now:     o.Now,
		sleep:   o.Sleep,
		maxWait: o.MaxWait,
		calls:   calls,
	}
	auth := &oauth2.Transport{
		Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: o.Token}),
		Base:   retry,
	}
	c.gh = github.NewClient(&http.Client{Transport: auth})
	c.gh.BaseURL = base
	c.gh.UserAgent = "tcbot"
	return c, nil
}

func callCounter(reg prometheus.Registerer) (*prometheus.CounterVec, error) {
	calls := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tcbot_github_calls_total",
		Help: "GitHub API calls by HTTP method and final status code after retries (\"error\" when no answer arrived).",
	}, []string{"method", "status"})
	if reg == nil {
		return calls, nil
	}
	if err := reg.Register(calls); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return existing, nil // a second Client in the same process shares the counter
			}
		}
		return nil, fmt.Errorf("github client: register metrics: %w", err)
	}
	return calls, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Repo names a GitHub repository.
type Repo struct{ Owner, Name string }

func (r Repo) String() string { return r.Owner + "/" + r.Name }

// key is how GitHub compares names: case-insensitively.
func (r Repo) key() string { return strings.ToLower(r.String()) }

var (
	ownerRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$`)
	nameRE  = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
)

// ParseRepo parses "owner/name".
func ParseRepo(s string) (Repo, error) {
	owner, name, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok || !ownerRE.MatchString(owner) || !nameRE.MatchString(name) || name == "." || name == ".." {
		return Repo{}, fmt.Errorf("github repository %q: want owner/name, such as acme/gcc", s)
	}
	return Repo{Owner: owner, Name: name}, nil
}

// lockWrites serializes writes to r. It waits for the lock or ctx.
func (c *Client) lockWrites(ctx context.Context, r Repo) (unlock func(), err error) {
	c.writeMu.Lock()
	sem, ok := c.writes[r.key()]
	if !ok {
		sem = make(chan struct{}, 1)
		c.writes[r.key()] = sem
	}
	c.writeMu.Unlock()
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// IsNotFound reports whether err is GitHub's 404: no such repository,
// pull request, issue or comment (or no right to see it).
func IsNotFound(err error) bool { return statusOf(err) == http.StatusNotFound }

// statusOf is the HTTP status of a GitHub error answer, or 0.
func statusOf(err error) int {
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	var rl *github.RateLimitError
	if errors.As(err, &rl) && rl.Response != nil {
		return rl.Response.StatusCode
	}
	var ab *github.AbuseRateLimitError
	if errors.As(err, &ab) && ab.Response != nil {
		return ab.Response.StatusCode
	}
	return 0
}

// failed says what was being done when err happened. It drops the
// *url.Error around an UnavailableError, which names the request already.
func failed(err error, format string, args ...any) error {
	var ue *UnavailableError
	if errors.As(err, &ue) {
		err = ue
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}
