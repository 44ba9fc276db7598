package githubtest

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// request is what a handler sees. Handlers run with Server.mu held.
type request struct {
	req    *http.Request
	params map[string]string
	body   map[string]any
	repo   *repo // nil outside /repos/{owner}/{repo}
	header http.Header
	caller caller // who holds the token
}

type handler func(s *Server, q *request) (status int, body any)

// endpoints is every REST endpoint the stand-in serves, first match wins.
var endpoints = []struct {
	method, pattern string
	h               handler
}{
	{"GET", "/user", getUser},
	{"POST", "/graphql", graphql},
	{"GET", "/repos/:owner/:repo/issues/comments/:id", getComment},
	{"PATCH", "/repos/:owner/:repo/issues/comments/:id", editComment},
	{"POST", "/repos/:owner/:repo/issues/comments/:id/reactions", createReaction},
	{"GET", "/repos/:owner/:repo/issues/:number/comments", listComments},
	{"POST", "/repos/:owner/:repo/issues/:number/comments", createComment},
	{"GET", "/repos/:owner/:repo/issues", listIssues},
	{"POST", "/repos/:owner/:repo/issues", createIssue},
	{"GET", "/repos/:owner/:repo/issues/:number", getIssue},
	{"PATCH", "/repos/:owner/:repo/issues/:number", editIssue},
	{"POST", "/repos/:owner/:repo/statuses/:sha", createStatus},
	{"GET", "/repos/:owner/:repo/collaborators/:user/permission", getPermission},
	{"GET", "/repos/:owner/:repo/pulls", listPulls},
	{"GET", "/repos/:owner/:repo/pulls/:number", getPull},
	{"GET", "/repos/:owner/:repo/commits/:sha", getCommit},
}

func route(method, path string) (handler, map[string]string) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
next:
	for _, e := range endpoints {
		if e.method != method {
			continue
		}
		pat := strings.Split(strings.Trim(e.pattern, "/"), "/")
		if len(pat) != len(segs) {
			continue
		}
		params := map[string]string{}
		for i, p := range pat {
			switch {
			case strings.HasPrefix(p, ":"):
				if segs[i] == "" {
					continue next
				}
				params[p[1:]] = segs[i]
			case p != segs[i]:
				continue next
			}
		}
		return e.h, params
	}
	return nil, nil
}

func notFound() (int, any) { return http.StatusNotFound, ghError("Not Found") }

func invalid(resource, field, code string) (int, any) {
	return http.StatusUnprocessableEntity, map[string]any{
		"message":           "Validation Failed",
		"errors":            []any{map[string]any{"resource": resource, "field": field, "code": code}},
		"documentation_url": "https://docs.github.com/rest",
	}
}

func (q *request) number(name string) (int64, bool) {
	n, err := strconv.ParseInt(q.params[name], 10, 64)
	return n, err == nil && n > 0
}

func (q *request) str(field string) (string, bool) {
	v, ok := q.body[field].(string)
	return v, ok
}

func (q *request) api(format string, args ...any) string {
	return fmt.Sprintf("http://%s/repos/%s/%s", q.req.Host, q.params["owner"], q.params["repo"]) + fmt.Sprintf(format, args...)
}

func (q *request) web(format string, args ...any) string {
	return fmt.Sprintf("https://github.com/%s/%s", q.params["owner"], q.params["repo"]) + fmt.Sprintf(format, args...)
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func userJSON(login string) map[string]any {
	typ := "User"
	if strings.HasSuffix(login, "[bot]") {
		typ = "Bot"
	}
	var id int64 = 1
	for _, c := range login {
		id = id*31 + int64(c)
	}
	if id < 0 {
		id = -id
	}
	return map[string]any{"login": login, "id": id, "type": typ, "html_url": "https://github.com/" + login}
}

// --- who is calling, and what they may do ---

func getUser(s *Server, q *request) (int, any) {
	if q.caller.app {
		return http.StatusForbidden, map[string]any{
			"message":           "Resource not accessible by integration",
			"documentation_url": "https://docs.github.com/rest/users/users#get-the-authenticated-user",
		}
	}
	return http.StatusOK, userJSON(q.caller.login)
}

// graphql answers the one query the stand-in knows, { viewer { login } },
// which GitHub answers for App installation tokens too.
func graphql(s *Server, q *request) (int, any) {
	query, _ := q.str("query")
	if f := strings.Fields(strings.NewReplacer("{", " { ", "}", " } ").Replace(query)); !slices.Contains(f, "viewer") || !slices.Contains(f, "login") || len(f) > 8 {
		return http.StatusOK, map[string]any{"errors": []any{map[string]any{"message": "githubtest: only { viewer { login } } is served, not " + query}}}
	}
	return http.StatusOK, map[string]any{"data": map[string]any{"viewer": map[string]any{"login": q.caller.login}}}
}

var rank = map[string]int{"read": 1, "triage": 2, "write": 3, "maintain": 4, "admin": 5}

// may reports whether the caller may change something author wrote: its
// author may, and so may anyone with role least or more on the repository.
func (q *request) may(author, least string) bool {
	return strings.EqualFold(author, q.caller.login) || q.atLeast(least)
}

func (q *request) atLeast(role string) bool {
	return rank[q.repo.role(q.caller.login)] >= rank[role]
}

// forbidden is GitHub's answer to a token without rights on a resource.
func (q *request) forbidden() (int, any) {
	msg := "Resource not accessible by personal access token"
	if q.caller.app {
		msg = "Resource not accessible by integration"
	}
	return http.StatusForbidden, map[string]any{"message": msg, "documentation_url": "https://docs.github.com/rest"}
}

// tooLong is GitHub's answer to a field over its limit in characters.
func tooLong(resource, field string, limit int) (int, any) {
	return http.StatusUnprocessableEntity, map[string]any{
		"message": "Validation Failed",
		"errors": []any{map[string]any{"resource": resource, "field": field, "code": "custom",
			"message": fmt.Sprintf("%s is too long (maximum is %d characters)", field, limit)}},
		"documentation_url": "https://docs.github.com/rest",
	}
}

const maxTitle = 256

// --- comments ---

func (q *request) commentJSON(number int, c *Comment) map[string]any {
	return map[string]any{
		"id":                 c.ID,
		"node_id":            fmt.Sprintf("IC_%d", c.ID),
		"url":                q.api("/issues/comments/%d", c.ID),
		"html_url":           q.web("/issues/%d#issuecomment-%d", number, c.ID),
		"issue_url":          q.api("/issues/%d", number),
		"body":               c.Body,
		"user":               userJSON(c.User),
		"created_at":         stamp(c.Created),
		"updated_at":         stamp(c.Updated),
		"author_association": "NONE",
	}
}

// findComment finds comment id in the request's repository.
func (q *request) findComment(id int64) (int, *Comment) {
	for n, cs := range q.repo.comments {
		for _, c := range cs {
			if c.ID == id {
				return n, c
			}
		}
	}
	return 0, nil
}

func (q *request) exists(number int) bool {
	_, isIssue := q.repo.issues[number]
	_, isPull := q.repo.pulls[number]
	return isIssue || isPull
}

func listComments(s *Server, q *request) (int, any) {
	n, ok := q.number("number")
	if !ok || !q.exists(int(n)) {
		return notFound()
	}
	out := []any{}
	for _, c := range paginate(q, q.repo.comments[int(n)]) {
		out = append(out, q.commentJSON(int(n), c))
	}
	return http.StatusOK, out
}

func createComment(s *Server, q *request) (int, any) {
	n, ok := q.number("number")
	if !ok || !q.exists(int(n)) {
		return notFound()
	}
	body, ok := q.str("body")
	if !ok || body == "" {
		return invalid("IssueComment", "body", "missing_field")
	}
	if utf8.RuneCountInString(body) > MaxBody {
		return tooLong("IssueComment", "body", MaxBody)
	}
	c := s.addComment(q.repo, int(n), q.caller.login, body)
	if is, ok := q.repo.issues[int(n)]; ok {
		is.Updated = c.Created
	}
	return http.StatusCreated, q.commentJSON(int(n), c)
}

func getComment(s *Server, q *request) (int, any) {
	id, ok := q.number("id")
	if !ok {
		return notFound()
	}
	n, c := q.findComment(id)
	if c == nil {
		return notFound()
	}
	return http.StatusOK, q.commentJSON(n, c)
}

func editComment(s *Server, q *request) (int, any) {
	id, ok := q.number("id")
	if !ok {
		return notFound()
	}
	n, c := q.findComment(id)
	if c == nil {
		return notFound()
	}
	if !q.may(c.User, "write") {
		return q.forbidden()
	}
	body, ok := q.str("body")
	if !ok || body == "" {
		return invalid("IssueComment", "body", "missing_field")
	}
	if utf8.RuneCountInString(body) > MaxBody {
		return tooLong("IssueComment", "body", MaxBody)
	}
	c.Body, c.Updated, c.Edits = body, now(), c.Edits+1
	return http.StatusOK, q.commentJSON(n, c)
}

// DeleteComment deletes comment id, as its author or a maintainer might.
func (s *Server) DeleteComment(repo string, id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repo(repo)
	for n, cs := range r.comments {
		r.comments[n] = slices.DeleteFunc(cs, func(c *Comment) bool { return c.ID == id })
	}
}

var reactionContents = []string{"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"}

func createReaction(s *Server, q *request) (int, any) {
	id, ok := q.number("id")
	if !ok {
		return notFound()
	}
	if _, c := q.findComment(id); c == nil {
		return notFound()
	}
	content, _ := q.str("content")
	if !slices.Contains(reactionContents, content) {
		return invalid("Reaction", "content", "invalid")
	}
	reactionJSON := func(r reaction) map[string]any {
		return map[string]any{"id": r.id, "node_id": fmt.Sprintf("REA_%d", r.id), "user": userJSON(r.user), "content": r.content}
	}
	for _, r := range q.repo.reacts[id] {
		if r.user == q.caller.login && r.content == content {
			return http.StatusOK, reactionJSON(r) // GitHub answers 200 with the existing reaction
		}
	}
	s.nextID++
	r := reaction{id: s.nextID, content: content, user: q.caller.login}
	q.repo.reacts[id] = append(q.repo.reacts[id], r)
	return http.StatusCreated, reactionJSON(r)
}

// --- statuses ---

var shaRE = regexp.MustCompile(`^(?:[0-9a-f]{40}|[0-9a-f]{64})$`)

func createStatus(s *Server, q *request) (int, any) {
	sha := q.params["sha"]
	if !shaRE.MatchString(sha) {
		return http.StatusUnprocessableEntity, map[string]any{"message": "No commit found for SHA: " + sha, "documentation_url": "https://docs.github.com/rest"}
	}
	state, _ := q.str("state")
	if !slices.Contains([]string{"error", "failure", "pending", "success"}, state) {
		return invalid("Status", "state", "invalid")
	}
	st := Status{State: state, Context: "default"}
	if v, ok := q.str("context"); ok && v != "" {
		st.Context = v
	}
	st.Description, _ = q.str("description")
	if utf8.RuneCountInString(st.Description) > 140 {
		return http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed", "errors": []any{map[string]any{"resource": "Status", "field": "description", "code": "custom", "message": "description is too long (maximum is 140 characters)"}}}
	}
	st.TargetURL, _ = q.str("target_url")
	q.repo.statuses[sha] = append(q.repo.statuses[sha], st)
	s.nextID++
	t := stamp(now())
	return http.StatusCreated, map[string]any{
		"id": s.nextID, "url": q.api("/statuses/%s", sha), "state": st.State, "description": st.Description,
		"target_url": st.TargetURL, "context": st.Context, "created_at": t, "updated_at": t, "creator": userJSON(q.caller.login),
	}
}

// --- permissions ---

func getPermission(s *Server, q *request) (int, any) {
	user := q.params["user"]
	role := q.repo.role(user)
	if role == "" {
		return notFound()
	}
	// "permission" is the legacy level: maintain reads as write, triage as read.
	legacy := map[string]string{"maintain": "write", "triage": "read"}[role]
	if legacy == "" {
		legacy = role
	}
	return http.StatusOK, map[string]any{"permission": legacy, "role_name": role, "user": userJSON(user)}
}

// --- pull requests ---

func (q *request) pullJSON(p *pull) map[string]any {
	full := q.params["owner"] + "/" + q.params["repo"]
	repoJSON := map[string]any{"full_name": full, "name": q.params["repo"], "owner": userJSON(q.params["owner"])}
	return map[string]any{
		"url":        q.api("/pulls/%d", p.Number),
		"id":         int64(p.Number) * 7919,
		"number":     p.Number,
		"state":      p.State,
		"title":      p.Title,
		"draft":      p.Draft,
		"user":       userJSON(p.Author),
		"html_url":   q.web("/pull/%d", p.Number),
		"created_at": stamp(p.Created),
		"updated_at": stamp(p.Created),
		"merged":     false,
		"head":       map[string]any{"label": p.Author + ":" + p.HeadRef, "ref": p.HeadRef, "sha": p.HeadSHA, "repo": repoJSON, "user": userJSON(p.Author)},
		"base":       map[string]any{"label": q.params["owner"] + ":" + p.BaseRef, "ref": p.BaseRef, "sha": p.BaseSHA, "repo": repoJSON, "user": userJSON(q.params["owner"])},
	}
}

func getPull(s *Server, q *request) (int, any) {
	n, ok := q.number("number")
	p := q.repo.pulls[int(n)]
	if !ok || p == nil {
		return notFound()
	}
	return http.StatusOK, q.pullJSON(p)
}

func stateFilter(q *request) (func(string) bool, bool) {
	switch st := q.req.URL.Query().Get("state"); st {
	case "", "open", "closed":
		if st == "" {
			st = "open"
		}
		return func(s string) bool { return s == st }, true
	case "all":
		return func(string) bool { return true }, true
	}
	return nil, false
}

// newestFirst orders numbers as GitHub's default sort (created, descending)
// does, or oldest first with direction=asc.
func newestFirst(q *request, numbers []int) []int {
	if q.req.URL.Query().Get("direction") != "asc" {
		slices.Reverse(numbers)
	}
	return numbers
}

func listPulls(s *Server, q *request) (int, any) {
	keep, ok := stateFilter(q)
	if !ok {
		return invalid("PullRequest", "state", "invalid")
	}
	var ps []*pull
	for _, n := range newestFirst(q, sortedKeys(q.repo.pulls)) {
		if p := q.repo.pulls[n]; keep(p.State) {
			ps = append(ps, p)
		}
	}
	out := []any{}
	for _, p := range paginate(q, ps) {
		out = append(out, q.pullJSON(p))
	}
	return http.StatusOK, out
}

// --- issues ---

func (q *request) issueJSON(is *issue) map[string]any {
	labels := []any{}
	for _, l := range is.Labels {
		labels = append(labels, map[string]any{"name": l, "color": "ededed"})
	}
	out := map[string]any{
		"url":        q.api("/issues/%d", is.Number),
		"id":         int64(is.Number) * 7907,
		"number":     is.Number,
		"title":      is.Title,
		"body":       is.Body,
		"state":      is.State,
		"labels":     labels,
		"user":       userJSON(is.Author),
		"comments":   len(q.repo.comments[is.Number]),
		"html_url":   q.web("/issues/%d", is.Number),
		"created_at": stamp(is.Created),
		"updated_at": stamp(is.Updated),
	}
	if is.State == "closed" {
		out["closed_at"] = stamp(is.Updated)
	}
	return out
}

// pullAsIssue is a pull request as the issues endpoints list it.
func (q *request) pullAsIssue(p *pull) map[string]any {
	out := q.issueJSON(&issue{Issue: Issue{Number: p.Number, Title: p.Title, State: p.State, Author: p.Author}, Created: p.Created, Updated: p.Created})
	out["pull_request"] = map[string]any{"url": q.api("/pulls/%d", p.Number), "html_url": q.web("/pull/%d", p.Number)}
	return out
}

func listIssues(s *Server, q *request) (int, any) {
	keep, ok := stateFilter(q)
	if !ok {
		return invalid("Issue", "state", "invalid")
	}
	var want []string
	if l := q.req.URL.Query().Get("labels"); l != "" {
		want = strings.Split(l, ",")
	}
	var numbers []int
	for n := range q.repo.issues {
		numbers = append(numbers, n)
	}
	for n := range q.repo.pulls {
		numbers = append(numbers, n)
	}
	slices.Sort(numbers)
	var out []map[string]any
	for _, n := range newestFirst(q, numbers) {
		if is, ok := q.repo.issues[n]; ok {
			if keep(is.State) && hasAll(is.Labels, want) {
				out = append(out, q.issueJSON(is))
			}
		} else if p := q.repo.pulls[n]; keep(p.State) && len(want) == 0 {
			out = append(out, q.pullAsIssue(p))
		}
	}
	page := paginate(q, out)
	if page == nil {
		return http.StatusOK, []any{}
	}
	return http.StatusOK, page
}

func hasAll(have, want []string) bool {
	for _, w := range want {
		if !slices.ContainsFunc(have, func(h string) bool { return strings.EqualFold(h, strings.TrimSpace(w)) }) {
			return false
		}
	}
	return true
}

func stringList(v any) ([]string, bool) {
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	var out []string
	for _, x := range list {
		s, ok := x.(string)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

func createIssue(s *Server, q *request) (int, any) {
	title, _ := q.str("title")
	if title == "" {
		return invalid("Issue", "title", "missing_field")
	}
	if utf8.RuneCountInString(title) > maxTitle {
		return tooLong("Issue", "title", maxTitle)
	}
	body, _ := q.str("body")
	if utf8.RuneCountInString(body) > MaxBody {
		return tooLong("Issue", "body", MaxBody)
	}
	var labels []string
	if v, ok := q.body["labels"]; ok {
		if labels, ok = stringList(v); !ok {
			return invalid("Issue", "labels", "invalid")
		}
	}
	if !q.atLeast("write") {
		labels = nil // GitHub silently drops labels set without push access
	}
	n := q.repo.nextNumber()
	t := now()
	is := &issue{Issue: Issue{Number: n, Title: title, Body: body, State: "open", Labels: labels, Author: q.caller.login}, Created: t, Updated: t}
	q.repo.issues[n] = is
	return http.StatusCreated, q.issueJSON(is)
}

func getIssue(s *Server, q *request) (int, any) {
	n, ok := q.number("number")
	if !ok {
		return notFound()
	}
	if is, ok := q.repo.issues[int(n)]; ok {
		return http.StatusOK, q.issueJSON(is)
	}
	if p, ok := q.repo.pulls[int(n)]; ok {
		return http.StatusOK, q.pullAsIssue(p)
	}
	return notFound()
}

func editIssue(s *Server, q *request) (int, any) {
	n, ok := q.number("number")
	is := q.repo.issues[int(n)]
	if !ok || is == nil {
		return notFound()
	}
	// Title and body: the author or a writer; state: the author or a
	// triager; labels: a triager. Nothing is applied unless all is allowed.
	_, title := q.body["title"]
	_, body := q.body["body"]
	_, state := q.body["state"]
	_, labels := q.body["labels"]
	if (title || body) && !q.may(is.Author, "write") || state && !q.may(is.Author, "triage") || labels && !q.atLeast("triage") {
		return q.forbidden()
	}
	if v, ok := q.str("title"); ok {
		if v == "" {
			return invalid("Issue", "title", "missing_field")
		}
		if utf8.RuneCountInString(v) > maxTitle {
			return tooLong("Issue", "title", maxTitle)
		}
	}
	if v, ok := q.str("body"); ok && utf8.RuneCountInString(v) > MaxBody {
		return tooLong("Issue", "body", MaxBody)
	}
	if v, ok := q.str("state"); ok && v != "open" && v != "closed" {
		return invalid("Issue", "state", "invalid")
	}
	var newLabels []string
	if v, ok := q.body["labels"]; ok {
		if newLabels, ok = stringList(v); !ok {
			return invalid("Issue", "labels", "invalid")
		}
	}
	if v, ok := q.str("title"); ok {
		is.Title = v
	}
	if v, ok := q.str("body"); ok {
		is.Body = v
	}
	if v, ok := q.str("state"); ok {
		is.State = v
	}
	if labels {
		is.Labels = newLabels
	}
	is.Updated = now()
	return http.StatusOK, q.issueJSON(is)
}

// --- commits ---

// getCommit answers as GitHub does: 422 for a SHA it does not have, a
// null author for an email linked to no account.
func getCommit(s *Server, q *request) (int, any) {
	sha := q.params["sha"]
	login, ok := q.repo.authors[sha]
	if !ok {
		return http.StatusUnprocessableEntity, ghError("No commit found for SHA: " + sha)
	}
	var author any
	if login != "" {
		author = userJSON(login)
	}
	return http.StatusOK, map[string]any{"sha": sha, "url": q.api("/commits/%s", sha), "author": author,
		"commit": map[string]any{"message": "", "author": map[string]any{"name": login, "email": login + "@example.org"}}}
}
