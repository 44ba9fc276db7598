package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/riverqueue/river"
	"github.com/sirupsen/logrus"

	"github.com/tcbot/tcbot/bot/command"
	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/forge"
	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/bot/store"
)

// Markers find tcbot's own comments and issues again.
const (
	reportMarker  = "<!-- tcbot:report -->"
	waitingMarker = "<!-- tcbot:waiting -->"
)

func sweepMarker(sweep, repo, branch string) string {
	return fmt.Sprintf("<!-- tcbot:sweep %s %s %s -->", sweep, repo, branch)
}

var stateRE = regexp.MustCompile(`<!-- tcbot:state head=([0-9a-f]*) verdict=([a-z]*) -->`)

// pullWorker decides whether a pull request head may run.
type pullWorker struct {
	river.WorkerDefaults[PullArgs]
	s *Service
}

func (w *pullWorker) Work(ctx context.Context, job *river.Job[PullArgs]) error {
	s := w.s
	a := job.Args
	repo, err := s.cfg.Repo(a.Repo)
	if err != nil {
		return river.JobCancel(err)
	}
	pull, ok, err := store.GetPull(ctx, s.store.Q(), a.Repo, a.Number)
	if err != nil {
		return err
	}
	if !ok || !pull.Open || pull.Draft || pull.Head != a.Head {
		return nil // closed, draft or moved on: a newer job handles it
	}
	trusted := true
	if s.gh != nil {
		perm, err := s.gh.Permission(ctx, ghRepo(repo), pull.Author)
		if err != nil {
			return err
		}
		trusted = forge.CanCommand(perm)
	}
	if err := store.SetPullTrust(ctx, s.store.Q(), a.Repo, a.Number, trusted); err != nil {
		return err
	}
	if !trusted && pull.ApprovedHead != a.Head {
		s.log.WithFields(logrus.Fields{"repo": a.Repo, "pr": a.Number, "author": pull.Author}).Info("pull request waits for /tcbot ok-to-test")
		body := waitingMarker + "\n" + fmt.Sprintf("tcbot will measure this pull request once a maintainer comments `/tcbot ok-to-test` (for head %s; a new push needs a new approval).", short(a.Head))
		_, _, err := s.gh.UpsertComment(ctx, ghRepo(repo), a.Number, waitingMarker, body)
		return err
	}
	return s.store.Tx(ctx, func(tx store.Tx) error {
		// The webhook and the reconcile pass can both see the same push:
		// a head already being measured for this pull request is not
		// measured twice.
		inflight, err := store.ListChanges(ctx, tx, "repo = ? AND pr = ? AND head = ? AND state IN ('queued', 'running')", 1, a.Repo, a.Number, a.Head)
		if err != nil || len(inflight) > 0 {
			return err
		}
		return s.startChange(ctx, tx, &store.Change{Repo: a.Repo, Head: a.Head, Origin: "pr", PR: a.Number})
	})
}

// rerequestWorker reruns the pull request with a given head.
type rerequestWorker struct {
	river.WorkerDefaults[RerequestArgs]
	s *Service
}

func (w *rerequestWorker) Work(ctx context.Context, job *river.Job[RerequestArgs]) error {
	s := w.s
	pulls, err := store.OpenPulls(ctx, s.store.Q(), job.Args.Repo)
	if err != nil {
		return err
	}
	for _, p := range pulls {
		if p.Head == job.Args.HeadSHA && (p.Trusted || p.ApprovedHead == p.Head) {
			err := s.store.Tx(ctx, func(tx store.Tx) error {
				return s.startChange(ctx, tx, &store.Change{Repo: p.Repo, Head: p.Head, Origin: "command", PR: p.Number, Note: "check re-requested"})
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// commandWorker runs the slash commands of a comment.
type commandWorker struct {
	river.WorkerDefaults[CommandArgs]
	s *Service
}

func (w *commandWorker) Work(ctx context.Context, job *river.Job[CommandArgs]) error {
	s := w.s
	a := job.Args
	cmds, unknown := command.Parse(a.Body)
	if len(cmds) == 0 && len(unknown) == 0 {
		return nil
	}
	repo, err := s.cfg.Repo(a.Repo)
	if err != nil {
		return river.JobCancel(err)
	}
	if s.gh == nil {
		return nil
	}
	gr := ghRepo(repo)
	number := a.PR // where replies go
	if a.Issue > 0 {
		number = a.Issue
	}
	log := s.log.WithFields(logrus.Fields{"repo": a.Repo, "pr": a.PR, "issue": a.Issue, "comment": a.CommentID, "user": a.Author})
	if err := s.gh.React(ctx, gr, a.CommentID, "eyes"); err != nil {
		return err
	}
	// Help (and the list of commands after an unknown one) is for anyone;
	// the other commands need write access.
	needsWrite := false
	for _, c := range cmds {
		if spec, ok := command.Lookup(c.Name); !ok || spec.NeedsWrite {
			needsWrite = true
		}
	}
	perm := "none"
	if needsWrite {
		if perm, err = s.gh.Permission(ctx, gr, a.Author); err != nil {
			return err
		}
	}
	if needsWrite && !forge.CanCommand(perm) {
		log.WithField("permission", perm).Info("command refused")
		if _, err := s.gh.CreateComment(ctx, gr, number, fmt.Sprintf("@%s sorry, only people with write access to %s can command tcbot (you have %s access). A maintainer can run the command for you.", a.Author, repo.GitHub, perm)); err != nil {
			return err
		}
		return s.gh.React(ctx, gr, a.CommentID, "confused")
	}
	var replies []string
	if len(unknown) > 0 {
		replies = append(replies, fmt.Sprintf("Unknown command %s.\n\n%s", quoteList(unknown), command.Help()))
	}
	for _, c := range cmds {
		run := s.runCommand
		if a.Issue > 0 {
			run = s.runIssueCommand
		}
		msg, err := run(ctx, repo, a, c)
		if err != nil {
			return err
		}
		if msg != "" {
			replies = append(replies, msg)
		}
		log.WithField("command", c.Name).Info("command run")
	}
	if len(replies) > 0 {
		if _, err := s.gh.CreateComment(ctx, gr, number, strings.Join(replies, "\n\n")); err != nil {
			return err
		}
	}
	reaction := "+1"
	if len(unknown) > 0 && len(cmds) == 0 {
		reaction = "confused"
	}
	return s.gh.React(ctx, gr, a.CommentID, reaction)
}

func quoteList(ws []string) string {
	var q []string
	for _, w := range ws {
		q = append(q, "`"+w+"`")
	}
	return strings.Join(q, ", ")
}

// runIssueCommand runs one command of a comment on a plain issue: only
// /tcbot accept means anything there.
func (s *Service) runIssueCommand(ctx context.Context, repo *config.Repo, a CommandArgs, c command.Command) (string, error) {
	switch c.Name {
	case "help":
		return command.Help(), nil
	case "accept":
		return s.accept(ctx, repo, a, c.Args)
	}
	return fmt.Sprintf("`/tcbot %s` works on pull requests; on an issue tcbot opened for a sweep's regression, use `/tcbot accept [why]`.", c.Name), nil
}

// runCommand runs one command; the reply is posted by the caller.
func (s *Service) runCommand(ctx context.Context, repo *config.Repo, a CommandArgs, c command.Command) (string, error) {
	pull, ok, err := store.GetPull(ctx, s.store.Q(), repo.Name, a.PR)
	if err != nil {
		return "", err
	}
	if !ok {
		pr, err := s.gh.PullRequest(ctx, ghRepo(repo), a.PR)
		if err != nil {
			return "", err
		}
		p := store.Pull{Repo: repo.Name, Number: a.PR, Head: pr.HeadSHA, BaseRef: pr.BaseRef, Author: pr.Author, Draft: pr.Draft, Open: pr.State == "open"}
		if err := store.UpsertPull(ctx, s.store.Q(), p); err != nil {
			return "", err
		}
		pull = &p
	}
	switch c.Name {
	case "help":
		return command.Help(), nil
	case "rerun":
		// An untrusted author's pull request runs only a head a
		// maintainer approved: a push after the approval waits.
		if ok, err := s.authorTrusted(ctx, repo, pull); err != nil {
			return "", err
		} else if !ok && pull.ApprovedHead != pull.Head {
			return fmt.Sprintf("Not rerun: head %s of this pull request has not been approved (its author has no write access). Review it and comment `/tcbot ok-to-test %s` to let tcbot measure it.", short(pull.Head), short(pull.Head)), nil
		}
		var targets []string
		base, note := "", "rerun by @"+a.Author
		for i := 0; i < len(c.Args); i++ {
			t := c.Args[i]
			if b, ok := strings.CutPrefix(t, "--base"); ok {
				// --base @NAME or --base=@NAME: a pinned baseline.
				b = strings.TrimPrefix(b, "=")
				if b == "" && i+1 < len(c.Args) {
					i++
					b = c.Args[i]
				}
				rev, err := repo.ResolveBase(b)
				if err != nil || !strings.HasPrefix(b, "@") {
					if err == nil {
						err = fmt.Errorf("--base %q: name a pinned baseline, @NAME (%s)", b, strings.Join(repo.BaselineNames(), ", "))
					}
					return fmt.Sprintf("Cannot rerun: %v.", err), nil
				}
				base, note = rev, note+" against "+b
				continue
			}
			if _, err := s.cfg.SelectTargets([]string{t}); err != nil {
				return fmt.Sprintf("Cannot rerun: %v.", err), nil
			}
			targets = append(targets, t)
		}
		err := s.store.Tx(ctx, func(tx store.Tx) error {
			return s.startChange(ctx, tx, &store.Change{Repo: repo.Name, Head: pull.Head, Base: base, Origin: "command", PR: a.PR, Targets: targets, Note: note})
		})
		return "", err
	case "ok-to-test":
		return s.okToTest(ctx, repo, a, c)
	case "cancel":
		n, err := s.cancelPR(ctx, repo.Name, a.PR, "cancelled by @"+a.Author)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("Cancelled %d queued or running measurement(s) and bisection(s).", n), nil
	case "bisect":
		return s.bisectCommand(ctx, repo, pull, a.Author)
	case "accept":
		return "`/tcbot accept` works on the issues tcbot opens for a sweep's regression, not on pull requests.", nil
	}
	return "", nil
}

// shaRE is what /tcbot ok-to-test accepts as a commit: 7 to 40 hex digits.
var shaRE = regexp.MustCompile(`^[0-9a-f]{7,40}$`)

// okToTest approves exactly one commit: the head the maintainer saw when
// they commented (recorded when the delivery was accepted), or the one
// they named. A head that moved since is not approved, whatever the
// timing of the push, the reaction and the permission check.
func (s *Service) okToTest(ctx context.Context, repo *config.Repo, a CommandArgs, c command.Command) (string, error) {
	seen := a.Head
	if len(c.Args) > 1 {
		return "`/tcbot ok-to-test` takes at most one commit SHA.", nil
	}
	if len(c.Args) == 1 {
		arg := strings.ToLower(c.Args[0])
		if !shaRE.MatchString(arg) {
			return fmt.Sprintf("`/tcbot ok-to-test %s`: not a commit SHA (want 7 to 40 hex digits, e.g. `/tcbot ok-to-test %s`).", c.Args[0], short(a.Head)), nil
		}
		seen = arg
	}
	var reply string
	var approved string
	err := s.store.Tx(ctx, func(tx store.Tx) error {
		pull, ok, err := store.GetPull(ctx, tx, repo.Name, a.PR)
		if err != nil {
			return err
		}
		if !ok || !pull.Open {
			reply = "This pull request is closed: nothing to approve."
			return nil
		}
		if seen == "" {
			reply = fmt.Sprintf("Not approved: tcbot did not know the head of this pull request when you commented. Comment `/tcbot ok-to-test %s` naming the commit you reviewed.", short(pull.Head))
			return nil
		}
		if !strings.HasPrefix(pull.Head, seen) {
			reply = fmt.Sprintf("Not approved: the head of this pull request is %s, not %s (it moved after the comment). Review %s and comment `/tcbot ok-to-test %s` to let tcbot measure it.",
				short(pull.Head), short(seen), short(pull.Head), short(pull.Head))
			return nil
		}
		approved = pull.Head
		if err := store.ApprovePull(ctx, tx, repo.Name, a.PR, approved); err != nil {
			return err
		}
		return s.startChange(ctx, tx, &store.Change{Repo: repo.Name, Head: approved, Origin: "pr", PR: a.PR, Note: "approved by @" + a.Author})
	})
	if err != nil || approved == "" {
		return reply, err
	}
	// The waiting comment, if there is one, says so now.
	gr := ghRepo(repo)
	id, old, found, err := s.gh.FindComment(ctx, gr, a.PR, waitingMarker)
	if err != nil {
		return "", err
	}
	if found {
		body := waitingMarker + "\n" + fmt.Sprintf("@%s approved head %s with `/tcbot ok-to-test`: tcbot is measuring it. A new push needs a new approval.", a.Author, short(approved))
		if old != body {
			if err := s.gh.EditComment(ctx, gr, id, body); err != nil {
				return "", err
			}
		}
	}
	return "", nil
}

// authorTrusted reports whether the pull request's author may run tcbot
// without approval, asking GitHub when tcbot has not decided it yet.
func (s *Service) authorTrusted(ctx context.Context, repo *config.Repo, pull *store.Pull) (bool, error) {
	if pull.Trusted || s.gh == nil {
		return true, nil
	}
	perm, err := s.gh.Permission(ctx, ghRepo(repo), pull.Author)
	if err != nil {
		return false, err
	}
	return forge.CanCommand(perm), nil
}

// reportWorker posts a measured change's report.
type reportWorker struct {
	river.WorkerDefaults[ReportArgs]
	s *Service
}

func (w *reportWorker) Work(ctx context.Context, job *river.Job[ReportArgs]) error {
	s := w.s
	c, err := store.GetChange(ctx, s.store.Q(), job.Args.Change)
	if err != nil {
		return river.JobCancel(err)
	}
	if c.Reported || c.State != store.ChangeDone {
		return nil
	}
	repo, err := s.cfg.Repo(c.Repo)
	if err != nil {
		return river.JobCancel(err)
	}
	var rep report.Report
	if err := json.Unmarshal([]byte(c.Report), &rep); err != nil {
		return river.JobCancel(fmt.Errorf("change %d: stored report: %w", c.ID, err))
	}
	switch {
	case c.Origin == "bisect":
		// A bisection's probe: the bisection reports, not its probes.
		return store.MarkReported(ctx, s.store.Q(), c.ID)
	case c.Origin == "drift":
		// A sweep head's drift since a pinned baseline: the sweep's issue
		// (when the head regressed) and the dashboard show it.
		if err := s.driftReported(ctx, repo, c); err != nil {
			return err
		}
		return store.MarkReported(ctx, s.store.Q(), c.ID)
	case c.Origin == "sweep":
		if err := s.sweepReported(ctx, repo, c, &rep); err != nil {
			return err
		}
	case s.gh == nil || repo.GitHub == "":
	case c.PR > 0:
		if err := s.postPRReport(ctx, repo, c, &rep); err != nil {
			return err
		}
	default:
		if err := s.setTargetStatuses(ctx, repo, c, &rep); err != nil {
			return err
		}
	}
	if err := s.maybeBisect(ctx, repo, c, &rep); err != nil {
		return err
	}
	s.metrics.reports.WithLabelValues(string(rep.Verdict)).Inc()
	return store.MarkReported(ctx, s.store.Q(), c.ID)
}

// postPRReport keeps one sticky comment per pull request: edited in place
// (edits notify nobody), and a new comment only when the verdict turns
// into a regression, so people are notified exactly then.
func (s *Service) postPRReport(ctx context.Context, repo *config.Repo, c *store.Change, rep *report.Report) error {
	gr := ghRepo(repo)
	// A report of a head the pull request has left behind must not replace
	// the report of its current head: it only sets that commit's statuses.
	if pull, ok, err := store.GetPull(ctx, s.store.Q(), repo.Name, c.PR); err != nil {
		return err
	} else if ok && pull.Head != c.Head {
		s.log.WithFields(logrus.Fields{"repo": repo.Name, "pr": c.PR, "head": short(c.Head), "current": short(pull.Head)}).Info("report of an old head: statuses only")
		return s.setTargetStatuses(ctx, repo, c, rep)
	}
	var md bytes.Buffer
	withURL := *rep
	withURL.URL = s.changeURL(c.ID)
	if err := report.Markdown(&md, withURL); err != nil {
		return err
	}
	// GitHub takes 65,536 characters: a longer report ends with a link to
	// the whole one on the dashboard.
	body := forge.CapBody(fmt.Sprintf("%s\n<!-- tcbot:state head=%s verdict=%s -->\n%s", reportMarker, c.Head, rep.Verdict, md.String()), s.changeURL(c.ID))
	bad := func(v string) bool { return v == string(compare.Regression) || v == string(compare.Failed) }
	id, old, found, err := s.gh.FindComment(ctx, gr, c.PR, reportMarker)
	if err != nil {
		return err
	}
	prev := ""
	if m := stateRE.FindStringSubmatch(old); found && m != nil {
		prev = m[2]
	}
	if found && !(bad(string(rep.Verdict)) && !bad(prev)) {
		if old != body {
			if err := s.gh.EditComment(ctx, gr, id, body); err != nil {
				return err
			}
		}
	} else {
		// First report, or the verdict just turned into a regression: a new
		// comment notifies; the old one stops being the sticky one.
		if _, err := s.gh.CreateComment(ctx, gr, c.PR, body); err != nil {
			return err
		}
		if found {
			superseded := strings.Replace(old, reportMarker, "<!-- tcbot:superseded -->", 1)
			if err := s.gh.EditComment(ctx, gr, id, superseded); err != nil {
				return err
			}
		}
	}
	if err := store.SetPullVerdict(ctx, s.store.Q(), repo.Name, c.PR, string(rep.Verdict)); err != nil {
		return err
	}
	return s.setTargetStatuses(ctx, repo, c, rep)
}

// setStatuses sets one state on every target's status of a change; it is
// best effort (pending, gave up): the final statuses come with the report.
func (s *Service) setStatuses(ctx context.Context, repo *config.Repo, c *store.Change, state, desc string) {
	err := s.postStatuses(ctx, repo, c, func(string) (string, string) { return state, desc })
	if err != nil {
		s.log.WithError(err).Warn("commit status")
	}
}

// setTargetStatus sets one target's status; best effort, like setStatuses.
func (s *Service) setTargetStatus(ctx context.Context, repo *config.Repo, c *store.Change, target, state, desc string) {
	if s.gh == nil || repo.GitHub == "" {
		return
	}
	if err := s.gh.SetStatus(ctx, ghRepo(repo), c.Head, "tcbot/"+target, state, desc, s.changeURL(c.ID)); err != nil {
		s.log.WithError(err).Warn("commit status")
	}
}

// setTargetStatuses sets each target's status from the report: failure
// for regressions and failures, error for infrastructure problems,
// success otherwise. An error makes the report job retry, so a status is
// never lost to a GitHub outage (setting a status again is harmless).
func (s *Service) setTargetStatuses(ctx context.Context, repo *config.Repo, c *store.Change, rep *report.Report) error {
	return s.postStatuses(ctx, repo, c, func(target string) (string, string) { return statusOf(rep, target) })
}

func (s *Service) postStatuses(ctx context.Context, repo *config.Repo, c *store.Change, stateOf func(target string) (state, desc string)) error {
	if s.gh == nil || repo.GitHub == "" {
		return nil
	}
	targets, err := s.cfg.SelectTargets(c.Targets)
	if err != nil {
		return err
	}
	var errs []error
	for _, t := range targets {
		state, desc := stateOf(t.Name)
		if err := s.gh.SetStatus(ctx, ghRepo(repo), c.Head, "tcbot/"+t.Name, state, desc, s.changeURL(c.ID)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// changeURL is where a change's report is on the dashboard ("" without a
// public_url).
func (s *Service) changeURL(id int64) string {
	if s.cfg.PublicURL == "" {
		return ""
	}
	return strings.TrimSuffix(s.cfg.PublicURL, "/") + fmt.Sprintf("/changes/%d", id)
}

func statusOf(rep *report.Report, target string) (state, desc string) {
	regressions, failures, improvements := 0, 0, 0
	worst := ""
	var worstDelta float64
	for _, c := range rep.Comparisons {
		if c.Target != target {
			continue
		}
		switch c.Verdict {
		case compare.Regression:
			regressions++
			if c.DeltaPct != nil && *c.DeltaPct > worstDelta {
				worstDelta = *c.DeltaPct
				worst = fmt.Sprintf(", worst %s %s %+.2f%%", c.Benchmark, c.Metric, *c.DeltaPct)
			}
		case compare.Failed:
			failures++
		case compare.Improvement, compare.Fixed:
			improvements++
		}
	}
	for _, e := range rep.Errors {
		if strings.HasPrefix(e, target+":") || !strings.Contains(e, ":") {
			return "error", "infrastructure problem (not the change's fault): " + e
		}
	}
	switch {
	case failures > 0:
		return "failure", fmt.Sprintf("%d benchmark(s) broken, %d regression(s)", failures, regressions)
	case regressions > 0:
		return "failure", fmt.Sprintf("%d regression(s)%s", regressions, worst)
	case improvements > 0:
		return "success", fmt.Sprintf("no regressions, %d improvement(s)", improvements)
	}
	return "success", "no regressions"
}
