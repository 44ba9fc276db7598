package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/tcbot/tcbot/bot/command"
)

// Event is one verified GitHub delivery that tcbot acts on, reduced to the
// fields tcbot needs. Exactly one of Push, PullRequest, Comment and
// Rerequest is set, matching Kind.
type Event struct {
	Delivery string // X-GitHub-Delivery, unique per delivery; the Sink dedupes on it
	Kind     string // X-GitHub-Event: push, pull_request, issue_comment, check_run or check_suite
	Action   string // the payload's action; "" for push
	Repo     string // "owner/name" (repository.full_name)
	Sender   string // login of the user whose action caused the delivery

	Push        *Push
	PullRequest *PullRequest
	Comment     *Comment
	Rerequest   *Rerequest

	// Payload is the delivered JSON, byte for byte as signed, for the store.
	// For a form-encoded delivery it is the JSON of the payload field.
	Payload []byte
}

// Push is a push to a branch or tag. A deleted ref has Deleted set and
// After all zeros.
type Push struct {
	Ref           string // "refs/heads/main", "refs/tags/v1"
	Before, After string
	Created       bool
	Deleted       bool
	Forced        bool
}

// PullRequest is a pull request event: opened, synchronize, reopened,
// closed, ready_for_review or converted_to_draft. Nothing here is trusted
// for fetching: the head is fetched from the configured repository as
// refs/pull/<Number>/head.
type PullRequest struct {
	Number            int
	HeadSHA           string
	HeadRef           string
	BaseRef           string
	BaseSHA           string
	Author            string // the pull request's author (not the sender)
	AuthorAssociation string // OWNER, MEMBER, COLLABORATOR, CONTRIBUTOR, NONE, ...; a hint only, permissions decide
	State             string // open or closed
	Draft             bool
}

// Comment is a new comment on a pull request (issue_comment created).
type Comment struct {
	ID                int64
	Body              string
	Author            string
	AuthorAssociation string
	IssueNumber       int  // the pull request's (or issue's) number
	OnPullRequest     bool // false: a plain issue, passed on only for /tcbot accept
}

// accepts reports whether a comment holds /tcbot accept.
func accepts(body string) bool {
	cmds, _ := command.Parse(body)
	for _, c := range cmds {
		if c.Name == "accept" {
			return true
		}
	}
	return false
}

// Rerequest is a press of GitHub's "Re-run" button (check_run or
// check_suite rerequested).
type Rerequest struct {
	HeadSHA    string
	HeadBranch string
	CheckName  string // the check run's name; "" for a whole suite
}

// Event kinds tcbot reads. Anything else is acknowledged and ignored.
const (
	kindPing         = "ping"
	kindPush         = "push"
	kindPullRequest  = "pull_request"
	kindIssueComment = "issue_comment"
	kindCheckRun     = "check_run"
	kindCheckSuite   = "check_suite"
)

// pullRequestActions are the pull_request actions passed on to the Sink.
// Drafts are passed on too (with Draft set): whether they wait is the
// Sink's decision.
var pullRequestActions = map[string]bool{
	"opened":             true,
	"synchronize":        true,
	"reopened":           true,
	"closed":             true,
	"ready_for_review":   true,
	"converted_to_draft": true,
}

// errMalformed marks payloads that are not the JSON their event promises.
var errMalformed = errors.New("malformed JSON")

// ignoredError says why a well-formed delivery needs no work.
type ignoredError struct {
	kind, action string
	why          string // optional
}

func (e *ignoredError) Error() string {
	s := "ignored: " + e.kind + "/" + e.action
	if e.why != "" {
		s += ": " + e.why
	}
	return s
}

// The payload types below declare only the fields tcbot reads. They are
// not go-github's event types on purpose: those decode every field, so a
// field tcbot never looks at can make a delivery unreadable. GitHub's own
// check_run example (testdata/webhooks/check_run/rerequested.json) dates
// its app as "2018-04-25 20:42:10", which go-github's Timestamp rejects.

type user struct {
	Login string `json:"login"`
}

type repository struct {
	FullName string `json:"full_name"`
}

// common holds what every event carries.
type common struct {
	Action     string     `json:"action"`
	Repository repository `json:"repository"`
	Sender     user       `json:"sender"`
}

type pushPayload struct {
	common
	Ref     string `json:"ref"`
	Before  string `json:"before"`
	After   string `json:"after"`
	Created bool   `json:"created"`
	Deleted bool   `json:"deleted"`
	Forced  bool   `json:"forced"`
}

type gitRef struct {
	Ref string `json:"ref"`
	SHA string `json:"sha"`
}

type pullRequestPayload struct {
	common
	Number      int `json:"number"`
	PullRequest *struct {
		Number            int    `json:"number"`
		State             string `json:"state"`
		Draft             bool   `json:"draft"`
		User              user   `json:"user"`
		AuthorAssociation string `json:"author_association"`
		Head              gitRef `json:"head"`
		Base              gitRef `json:"base"`
	} `json:"pull_request"`
}

type issueCommentPayload struct {
	common
	Issue *struct {
		Number int `json:"number"`
		// PullRequest is present, and not null, only on pull requests.
		PullRequest json.RawMessage `json:"pull_request"`
	} `json:"issue"`
	Comment *struct {
		ID                int64  `json:"id"`
		Body              string `json:"body"`
		User              user   `json:"user"`
		AuthorAssociation string `json:"author_association"`
	} `json:"comment"`
}

type checkRunPayload struct {
	common
	CheckRun *struct {
		Name       string `json:"name"`
		HeadSHA    string `json:"head_sha"`
		CheckSuite struct {
			HeadBranch string `json:"head_branch"`
		} `json:"check_suite"`
	} `json:"check_run"`
}

type checkSuitePayload struct {
	common
	CheckSuite *struct {
		HeadSHA    string `json:"head_sha"`
		HeadBranch string `json:"head_branch"`
	} `json:"check_suite"`
}

// parseEvent turns a verified payload of the given kind into an Event. It
// returns an *ignoredError for deliveries tcbot does not act on and an
// error wrapping errMalformed for payloads it cannot read. Kind and
// Delivery are left to the caller.
func parseEvent(kind string, payload []byte) (Event, error) {
	var ev Event
	decode := func(v any) error {
		if !isObject(payload) {
			return fmt.Errorf("%w: not an object", errMalformed)
		}
		if err := json.Unmarshal(payload, v); err != nil {
			return fmt.Errorf("%w: %v", errMalformed, err)
		}
		return nil
	}
	from := func(c common) {
		ev.Action, ev.Repo, ev.Sender = c.Action, c.Repository.FullName, c.Sender.Login
	}

	switch kind {
	case kindPush:
		var p pushPayload
		if err := decode(&p); err != nil {
			return ev, err
		}
		from(p.common)
		ev.Push = &Push{Ref: p.Ref, Before: p.Before, After: p.After, Created: p.Created, Deleted: p.Deleted, Forced: p.Forced}
		if p.Ref == "" || p.After == "" {
			return ev, missing("ref and after")
		}

	case kindPullRequest:
		var p pullRequestPayload
		if err := decode(&p); err != nil {
			return ev, err
		}
		from(p.common)
		if !pullRequestActions[ev.Action] {
			return ev, &ignoredError{kind: kind, action: ev.Action}
		}
		pr := p.PullRequest
		if pr == nil {
			return ev, missing("pull_request")
		}
		number := pr.Number
		if number == 0 {
			number = p.Number
		}
		ev.PullRequest = &PullRequest{
			Number:            number,
			HeadSHA:           pr.Head.SHA,
			HeadRef:           pr.Head.Ref,
			BaseRef:           pr.Base.Ref,
			BaseSHA:           pr.Base.SHA,
			Author:            pr.User.Login,
			AuthorAssociation: pr.AuthorAssociation,
			State:             pr.State,
			Draft:             pr.Draft,
		}
		if number <= 0 || pr.Head.SHA == "" {
			return ev, missing("pull_request number and head.sha")
		}

	case kindIssueComment:
		var p issueCommentPayload
		if err := decode(&p); err != nil {
			return ev, err
		}
		from(p.common)
		if ev.Action != "created" {
			return ev, &ignoredError{kind: kind, action: ev.Action}
		}
		if p.Issue == nil || p.Comment == nil {
			return ev, missing("issue and comment")
		}
		onPR := len(p.Issue.PullRequest) > 0 && !bytes.Equal(p.Issue.PullRequest, []byte("null"))
		if !onPR && !accepts(p.Comment.Body) {
			// On a plain issue only /tcbot accept (on a sweep's
			// regression issue) means anything.
			return ev, &ignoredError{kind: kind, action: ev.Action, why: "not a pull request"}
		}
		c := p.Comment
		ev.Comment = &Comment{
			ID:                c.ID,
			Body:              c.Body,
			Author:            c.User.Login,
			AuthorAssociation: c.AuthorAssociation,
			IssueNumber:       p.Issue.Number,
			OnPullRequest:     onPR,
		}
		if c.ID == 0 || p.Issue.Number <= 0 {
			return ev, missing("comment.id and issue.number")
		}

	case kindCheckRun:
		var p checkRunPayload
		if err := decode(&p); err != nil {
			return ev, err
		}
		from(p.common)
		if ev.Action != "rerequested" {
			return ev, &ignoredError{kind: kind, action: ev.Action}
		}
		if p.CheckRun == nil || p.CheckRun.HeadSHA == "" {
			return ev, missing("check_run.head_sha")
		}
		ev.Rerequest = &Rerequest{
			HeadSHA:    p.CheckRun.HeadSHA,
			HeadBranch: p.CheckRun.CheckSuite.HeadBranch,
			CheckName:  p.CheckRun.Name,
		}

	case kindCheckSuite:
		var p checkSuitePayload
		if err := decode(&p); err != nil {
			return ev, err
		}
		from(p.common)
		if ev.Action != "rerequested" {
			return ev, &ignoredError{kind: kind, action: ev.Action}
		}
		if p.CheckSuite == nil || p.CheckSuite.HeadSHA == "" {
			return ev, missing("check_suite.head_sha")
		}
		ev.Rerequest = &Rerequest{HeadSHA: p.CheckSuite.HeadSHA, HeadBranch: p.CheckSuite.HeadBranch}

	default:
		// Not one tcbot acts on (ping included): check it is JSON and learn
		// its action for the reply and the log.
		var p common
		if err := decode(&p); err != nil {
			return ev, err
		}
		from(p)
		return ev, &ignoredError{kind: kind, action: ev.Action}
	}
	if ev.Repo == "" {
		return ev, missing("repository.full_name")
	}
	return ev, nil
}

func missing(what string) error {
	return fmt.Errorf("%w: payload has no %s", errMalformed, what)
}

// isObject reports whether payload is a JSON object: json.Unmarshal would
// take null as an empty event.
func isObject(payload []byte) bool {
	for _, b := range payload {
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return true
		default:
			return false
		}
	}
	return false
}
