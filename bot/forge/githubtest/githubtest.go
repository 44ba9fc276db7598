// Package githubtest is a stand-in for GitHub's REST API, for tests: an
// httptest server that keeps pull requests, issues, comments, statuses,
// reactions and permissions in memory, answers with GitHub's JSON shapes,
// checks the token, paginates with Link headers like GitHub, and injects
// failures (rate limits, 5xx, writes applied but answered with an error).
//
// It serves the endpoints tcbot's forge package uses; any other request gets
// GitHub's 404 and is recorded (see Unhandled), so a test notices a call the
// stand-in does not know. A Server is safe for concurrent use.
//
// Like GitHub, it knows who is calling: each token belongs to a user (see
// AddToken), GET /user names them, what they create is theirs, and what
// they may change depends on whose it is and on their role in the
// repository. A body over GitHub's 65,536 characters is refused.
package githubtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tcbot/tcbot/bot/forge"
)

// BotLogin is the login of whoever holds the token given to New: comments,
// issues and reactions made through the API with it are theirs. Unless
// SetPermission says otherwise, BotLogin has write access to every
// repository, as an App installed with issues and pull requests write
// permission has.
const BotLogin = "tcbot[bot]"

// MaxBody is the longest comment or issue body GitHub accepts, in
// characters (Unicode code points).
const MaxBody = 65536

// Comment is an issue or pull request comment.
type Comment struct {
	ID               int64
	Body, User       string
	Created, Updated time.Time
	Edits            int
}

// Status is one commit status as posted.
type Status struct{ Context, State, Description, TargetURL string }

// Issue is an issue (not a pull request) and the bodies of its comments.
type Issue struct {
	Number             int
	Title, Body, State string
	Author             string
	Labels             []string
	Comments           []string
}

// Call is one request the server answered.
type Call struct {
	Method, Path, Query string
	Status              int
	Unhandled           bool // no endpoint of the stand-in matched
}

// Server is the stand-in. Repository names are compared case-insensitively,
// as GitHub does; any repository exists.
type Server struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	tokens   map[string]caller // by token
	repos    map[string]*repo
	nextID   int64
	faults   []*fault
	barriers []*barrier
	hooks    []*hook
	calls    []Call
	inflight map[string]int // writes being served, per repository
	maxWrite map[string]int
}

type repo struct {
	perms    map[string]string // lower-cased login -> role
	pulls    map[int]*pull
	issues   map[int]*issue
	comments map[int][]*Comment // by issue or pull request number
	statuses map[string][]Status
	reacts   map[int64][]reaction
	authors  map[string]string // commit SHA -> author login
}

type pull struct {
	forge.PR
	Title   string
	Created time.Time
}

type issue struct {
	Issue
	Created time.Time
	Updated time.Time
}

// caller is who holds a token.
type caller struct {
	login string
	// app: an App installation token, which GET /user refuses ("Resource
	// not accessible by integration") while GraphQL's viewer names the
	// App's bot user.
	app bool
}

type reaction struct {
	id      int64
	content string
	user    string
}

type fault struct {
	method, prefix string
	n              int
	status         int
	headers        map[string]string
	afterApply     bool
}

type barrier struct {
	method, prefix string
	n, arrived     int
	timeout        time.Duration
	all            chan struct{}
}

// New starts a stand-in that accepts token, BotLogin's; t.Cleanup closes it.
func New(t testing.TB, token string) *Server {
	s := &Server{
		t:        t,
		tokens:   map[string]caller{},
		repos:    map[string]*repo{},
		nextID:   1000,
		inflight: map[string]int{},
		maxWrite: map[string]int{},
	}
	if token != "" {
		s.tokens[token] = caller{login: BotLogin}
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// AddToken makes the server accept token as user login's personal access
// token: what a test posts with it (a hostile user's comment, say) is
// login's, and login's rights are what SetPermission gave them (none by
// default: they may change only what they wrote).
func (s *Server) AddToken(token, login string) {
	s.addToken(token, caller{login: login})
}

// AddAppToken makes the server accept token as a GitHub App installation
// token whose bot user is login (such as "my-app[bot]"): GET /user refuses
// it with 403, as GitHub does, and GraphQL's viewer names login.
func (s *Server) AddAppToken(token, login string) {
	s.addToken(token, caller{login: login, app: true})
}

func (s *Server) addToken(token string, c caller) {
	s.t.Helper()
	if token == "" || c.login == "" {
		s.t.Fatalf("githubtest: a token needs a value and a login")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = c
}

// URL is the API base URL to give forge.Options.APIURL, with a trailing slash.
func (s *Server) URL() string { return s.srv.URL + "/" }

func (s *Server) repo(name string) *repo {
	key := strings.ToLower(name)
	r, ok := s.repos[key]
	if !ok {
		r = &repo{
			perms:    map[string]string{},
			pulls:    map[int]*pull{},
			issues:   map[int]*issue{},
			comments: map[int][]*Comment{},
			statuses: map[string][]Status{},
			reacts:   map[int64][]reaction{},
			authors:  map[string]string{},
		}
		s.repos[key] = r
	}
	return r
}

var roles = []string{"admin", "maintain", "write", "triage", "read", "none"}

// SetPermission gives user role perm on repo: admin, maintain, write,
// triage, read or none. Users never given one are unknown to GitHub (404),
// except BotLogin, who has write.
func (s *Server) SetPermission(repo, user, perm string) {
	s.t.Helper()
	if !slices.Contains(roles, perm) {
		s.t.Fatalf("githubtest: SetPermission(%q, %q, %q): want one of %v", repo, user, perm, roles)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repo(repo).perms[strings.ToLower(user)] = perm
}

// SetCommitAuthor makes GitHub know commit sha of repo, authored by the
// account login ("" for an email GitHub links to no account).
func (s *Server) SetCommitAuthor(repo, sha, login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repo(repo).authors[sha] = login
}

// AddPull adds (or replaces) pull request pr.Number. State defaults to
// open, Author to "contributor", the refs to "topic" and "main".
func (s *Server) AddPull(repo string, pr forge.PR) {
	s.t.Helper()
	if pr.Number <= 0 {
		s.t.Fatalf("githubtest: AddPull(%q): number %d", repo, pr.Number)
	}
	if pr.State == "" {
		pr.State = "open"
	}
	if pr.Author == "" {
		pr.Author = "contributor"
	}
	if pr.HeadRef == "" {
		pr.HeadRef = "topic"
	}
	if pr.BaseRef == "" {
		pr.BaseRef = "main"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repo(repo)
	if _, ok := r.issues[pr.Number]; ok {
		s.t.Fatalf("githubtest: AddPull(%q, #%d): that number is an issue", repo, pr.Number)
	}
	r.pulls[pr.Number] = &pull{PR: pr, Title: fmt.Sprintf("Pull request %d", pr.Number), Created: now()}
}

// SetPullHead moves the head of pull request number to sha, as a push does.
func (s *Server) SetPullHead(repo string, number int, sha string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.repo(repo).pulls[number]
	if !ok {
		s.t.Fatalf("githubtest: SetPullHead(%q, %d): no such pull request", repo, number)
	}
	p.HeadSHA = sha
}

// AddComment adds a comment by user (a human, say) on issue or pull
// request number and returns its ID. Unlike the API it checks nothing.
func (s *Server) AddComment(repo string, number int, user, body string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addComment(s.repo(repo), number, user, body).ID
}

// AddIssue adds an open issue by user with labels (as if a maintainer had
// labelled it) and returns its number. Unlike the API it checks nothing.
func (s *Server) AddIssue(repo, user, title, body string, labels ...string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repo(repo)
	n := r.nextNumber()
	t := now()
	r.issues[n] = &issue{Issue: Issue{Number: n, Title: title, Body: body, State: "open", Author: user, Labels: labels}, Created: t, Updated: t}
	return n
}

// nextNumber is the number of the next issue or pull request.
func (r *repo) nextNumber() int {
	n := 1
	for k := range r.issues {
		n = max(n, k+1)
	}
	for k := range r.pulls {
		n = max(n, k+1)
	}
	return n
}

// role is user's role on the repository: what SetPermission gave them,
// write for BotLogin by default, or "" for a user GitHub does not know.
func (r *repo) role(user string) string {
	if role, ok := r.perms[strings.ToLower(user)]; ok {
		return role
	}
	if strings.EqualFold(user, BotLogin) {
		return "write"
	}
	return ""
}

func (s *Server) addComment(r *repo, number int, user, body string) *Comment {
	s.nextID++
	t := now()
	c := &Comment{ID: s.nextID, Body: body, User: user, Created: t, Updated: t}
	r.comments[number] = append(r.comments[number], c)
	return c
}

// Fail answers the next n requests matching method and path prefix ("" for
// either matches all) with status, headers and GitHub's JSON error, without
// applying them. The error's message follows the headers: X-RateLimit-Remaining
// "0" makes it a primary rate limit, Retry-After on a 403 or 429 a secondary
// one; a bare 403 is a refusal.
func (s *Server) Fail(method, pathPrefix string, n int, status int, headers map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{method: method, prefix: pathPrefix, n: n, status: status, headers: headers})
}

// FailAfterApply applies the next n requests matching method and path
// prefix but answers them with status, as a GitHub that times out after
// committing does.
func (s *Server) FailAfterApply(method, pathPrefix string, n int, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{method: method, prefix: pathPrefix, n: n, status: status, afterApply: true})
}

// Barrier holds each of the next n requests matching method and path
// prefix until all n have arrived, proving they were in flight together.
// If they do not all arrive within timeout, the waiting ones are answered
// 409 with a message saying so.
func (s *Server) Barrier(method, pathPrefix string, n int, timeout time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.barriers = append(s.barriers, &barrier{method: method, prefix: pathPrefix, n: n, timeout: timeout, all: make(chan struct{})})
}

// Comments returns the comments on issue or pull request number, oldest first.
func (s *Server) Comments(repo string, number int) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Comment
	for _, c := range s.repo(repo).comments[number] {
		out = append(out, *c)
	}
	return out
}

// Statuses returns every status posted on sha, in order.
func (s *Server) Statuses(repo, sha string) []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.repo(repo).statuses[sha])
}

// LatestStatus returns the newest status of context on sha: the one GitHub shows.
func (s *Server) LatestStatus(repo, sha, context string) (Status, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sts := s.repo(repo).statuses[sha]
	for i := len(sts) - 1; i >= 0; i-- {
		if sts[i].Context == context {
			return sts[i], true
		}
	}
	return Status{}, false
}

// Reactions returns the reactions' contents on comment commentID, in order.
func (s *Server) Reactions(repo string, commentID int64) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.repo(repo).reacts[commentID] {
		out = append(out, r.content)
	}
	return out
}

// Issues returns the issues of repo (not pull requests), by number.
func (s *Server) Issues(repo string) []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repo(repo)
	var out []Issue
	for _, n := range sortedKeys(r.issues) {
		is := r.issues[n].Issue
		is.Labels = slices.Clone(is.Labels)
		is.Comments = nil
		for _, c := range r.comments[n] {
			is.Comments = append(is.Comments, c.Body)
		}
		out = append(out, is)
	}
	return out
}

// Calls returns every request answered so far, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Unhandled returns the requests no endpoint of the stand-in knew.
func (s *Server) Unhandled() []Call {
	var out []Call
	for _, c := range s.Calls() {
		if c.Unhandled {
			out = append(out, c)
		}
	}
	return out
}

// MaxInFlightWrites is the largest number of writes (POST, PATCH, PUT,
// DELETE) to repo the server was serving at once.
func (s *Server) MaxInFlightWrites(repo string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxWrite[strings.ToLower(repo)]
}

func now() time.Time { return time.Now().UTC().Truncate(time.Second) }

func sortedKeys[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// serve authenticates, applies faults and barriers, routes, and records.
// The call is recorded and the write leaves the in-flight count before the
// answer goes out, so a client that has its answer sees both.
func (s *Server) serve(w http.ResponseWriter, req *http.Request) {
	s.runHooks(req)
	var done func()
	if repoName, ok := repoOf(req.URL.Path); ok && isWrite(req.Method) {
		key := strings.ToLower(repoName)
		s.mu.Lock()
		s.inflight[key]++
		s.maxWrite[key] = max(s.maxWrite[key], s.inflight[key])
		s.mu.Unlock()
		done = func() { s.inflight[key]-- }
		// Widen the window in which overlapping writes would meet.
		for range 10 {
			runtime.Gosched()
		}
	}
	rep := s.answer(req)
	s.mu.Lock()
	if done != nil {
		done()
	}
	s.calls = append(s.calls, Call{Method: req.Method, Path: req.URL.Path, Query: req.URL.RawQuery, Status: rep.status, Unhandled: rep.unhandled})
	s.mu.Unlock()

	for k, v := range rep.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(rep.status)
	_ = json.NewEncoder(w).Encode(rep.body)
}

type reply struct {
	status    int
	header    http.Header
	body      any
	unhandled bool
}

func (s *Server) answer(req *http.Request) reply {
	who, ok := s.authorized(req)
	if !ok {
		return reply{status: http.StatusUnauthorized, body: ghError("Bad credentials")}
	}
	if !s.await(req) {
		return reply{status: http.StatusConflict, body: ghError("githubtest: barrier timed out before all requests arrived")}
	}
	f := s.fault(req)
	if f != nil && !f.afterApply {
		h := http.Header{}
		for k, v := range f.headers {
			h.Set(k, v)
		}
		return reply{status: f.status, header: h, body: faultBody(f)}
	}
	h, params := route(req.Method, req.URL.Path)
	if h == nil {
		return reply{status: http.StatusNotFound, body: ghError("Not Found"), unhandled: true}
	}
	var body map[string]any
	if req.Method != http.MethodGet && req.Body != nil {
		if err := json.NewDecoder(req.Body).Decode(&body); err != nil && err != io.EOF {
			return reply{status: http.StatusBadRequest, body: ghError("Problems parsing JSON")}
		}
	}
	q := &request{req: req, params: params, body: body, header: http.Header{}, caller: who}
	s.mu.Lock()
	if params["owner"] != "" {
		q.repo = s.repo(params["owner"] + "/" + params["repo"])
	}
	status, out := h(s, q)
	s.mu.Unlock()
	if f != nil { // applied, but the client hears of a failure
		return reply{status: f.status, body: faultBody(f)}
	}
	return reply{status: status, header: q.header, body: out}
}

// authorized returns who holds the request's token.
func (s *Server) authorized(req *http.Request) (caller, bool) {
	scheme, tok, ok := strings.Cut(req.Header.Get("Authorization"), " ")
	if !ok || tok == "" || !(strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "token")) {
		return caller{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.tokens[tok]
	return c, ok
}

func matches(method, prefix string, req *http.Request) bool {
	return (method == "" || method == req.Method) && strings.HasPrefix(req.URL.Path, prefix)
}

func (s *Server) fault(req *http.Request) *fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.faults {
		if f.n > 0 && matches(f.method, f.prefix, req) {
			f.n--
			return f
		}
	}
	return nil
}

// await holds req at a matching barrier; false if the barrier timed out.
func (s *Server) await(req *http.Request) bool {
	s.mu.Lock()
	var b *barrier
	for _, cand := range s.barriers {
		if cand.arrived < cand.n && matches(cand.method, cand.prefix, req) {
			b = cand
			break
		}
	}
	if b == nil {
		s.mu.Unlock()
		return true
	}
	b.arrived++
	if b.arrived == b.n {
		close(b.all)
	}
	s.mu.Unlock()
	t := time.NewTimer(b.timeout)
	defer t.Stop()
	select {
	case <-b.all:
		return true
	case <-t.C:
		return false
	case <-req.Context().Done():
		return false
	}
}

func faultBody(f *fault) map[string]any {
	switch {
	case f.headers["X-RateLimit-Remaining"] == "0":
		return map[string]any{
			"message":           "API rate limit exceeded for installation.",
			"documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-primary-rate-limits",
		}
	case f.headers["Retry-After"] != "" && (f.status == http.StatusForbidden || f.status == http.StatusTooManyRequests):
		return map[string]any{
			"message":           "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
			"documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
		}
	}
	return ghError(http.StatusText(f.status))
}

func ghError(msg string) map[string]any {
	return map[string]any{"message": msg, "documentation_url": "https://docs.github.com/rest"}
}

func isWrite(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

var repoPathRE = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)(/|$)`)

func repoOf(path string) (string, bool) {
	m := repoPathRE.FindStringSubmatch(path)
	if m == nil {
		return "", false
	}
	return m[1] + "/" + m[2], true
}

// paginate answers one page of items as GitHub does: per_page (default
// 30, at most 100) and page (from 1) from the query, and a Link header.
func paginate[T any](q *request, items []T) []T {
	query := q.req.URL.Query()
	per, err := strconv.Atoi(query.Get("per_page"))
	if err != nil || per <= 0 {
		per = 30
	}
	per = min(per, 100)
	page, err := strconv.Atoi(query.Get("page"))
	if err != nil || page < 1 {
		page = 1
	}
	last := max(1, (len(items)+per-1)/per)
	link := func(p int, rel string) string {
		v := q.req.URL.Query()
		v.Set("page", strconv.Itoa(p))
		v.Set("per_page", strconv.Itoa(per))
		return fmt.Sprintf(`<http://%s%s?%s>; rel="%s"`, q.req.Host, q.req.URL.Path, v.Encode(), rel)
	}
	var links []string
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"), link(page-1, "prev"))
	}
	if len(links) > 0 {
		q.header.Set("Link", strings.Join(links, ", "))
	}
	lo := min((page-1)*per, len(items))
	hi := min(lo+per, len(items))
	return items[lo:hi]
}
