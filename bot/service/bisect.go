package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/sirupsen/logrus"

	"github.com/tcbot/tcbot/bot/bisect"
	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/bot/store"
)

// A bisection is a job like any other. Its job (BisectArgs) runs the
// search of bot/bisect; each commit it probes is a change (origin
// "bisect") measured by the targets' workers like every other change, so
// probes run wherever the targets are served, in parallel when several
// workers are free, and their measurements are stored. The job waits for
// its probes; after a crash it runs again and finds them done (or still
// queued), so a resumed bisection measures nothing twice and reports once
// (BisectReportArgs, unique, marks it reported).

// BisectArgs runs a stored bisection.
type BisectArgs struct {
	Bisection int64 `json:"bisection"`
}

func (BisectArgs) Kind() string { return "tcbot_bisect" }

// InsertOpts: bisections wait for their probes, so they have a queue of
// their own (BisectQueue): waiting, they never hold a worker the probes'
// finish and report jobs need.
func (BisectArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: uniqueOpts(), MaxAttempts: 5, Queue: BisectQueue}
}

// BisectQueue is the queue of bisection jobs, and bisectWorkers how many
// run at once in a serve process.
const (
	BisectQueue   = "bisect"
	bisectWorkers = 4
)

// BisectReportArgs posts a finished bisection where its regression was
// reported: the sweep issue, the pull request, the commit statuses' page.
type BisectReportArgs struct {
	Bisection int64 `json:"bisection"`
}

func (BisectReportArgs) Kind() string { return "tcbot_bisect_report" }
func (BisectReportArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: uniqueOpts(), MaxAttempts: 25}
}

// probePoll is how often a bisection looks at its probes.
var probePoll = 500 * time.Millisecond

// startBisection stores a bisection and queues its job in tx.
func (s *Service) startBisection(ctx context.Context, tx store.Tx, b *store.Bisection) error {
	if _, err := store.InsertBisection(ctx, tx, b); err != nil {
		return err
	}
	_, err := s.river.InsertTx(ctx, tx, BisectArgs{Bisection: b.ID}, nil)
	return err
}

type bisectWorker struct {
	river.WorkerDefaults[BisectArgs]
	s *Service
}

// Timeout: a bisection of real toolchain builds takes as long as its
// builds; its probes are jobs of their own, with their own timeouts.
func (w *bisectWorker) Timeout(*river.Job[BisectArgs]) time.Duration { return 48 * time.Hour }

func (w *bisectWorker) Work(ctx context.Context, job *river.Job[BisectArgs]) error {
	s := w.s
	b, err := store.GetBisection(ctx, s.store.Q(), job.Args.Bisection)
	if err != nil {
		return river.JobCancel(err)
	}
	if b.State != store.BisectQueued && b.State != store.BisectRunning {
		return nil
	}
	repo, err := s.cfg.Repo(b.Repo)
	if err != nil {
		return river.JobCancel(err)
	}
	log := s.log.WithFields(logrus.Fields{"job": job.ID, "bisection": b.ID, "repo": b.Repo, "good": short(b.Good), "bad": short(b.Bad)})
	if err := store.SetBisectionState(ctx, s.store.Q(), b.ID, store.BisectRunning, ""); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.runningMu.Lock()
	s.bisecting[b.ID] = cancel
	s.runningMu.Unlock()
	defer func() {
		s.runningMu.Lock()
		delete(s.bisecting, b.ID)
		s.runningMu.Unlock()
	}()
	mirror, err := s.mirror(repo)
	if err != nil {
		return err
	}
	if err := mirror.Fetch(ctx, true); err != nil {
		return err
	}
	target := ""
	if len(b.Targets) == 1 {
		target = b.Targets[0]
	}
	log.Info("bisecting")
	res, err := bisect.Run(ctx, bisect.Options{
		Repo: b.Repo, Good: b.Good, Bad: b.Bad, Target: target,
		Parallel: s.bisectParallel(ctx, b.Targets),
		Mirror:   mirror,
		Measure:  s.probe(b),
		Reproduce: func(base, head, t string) string {
			return s.reproduce(b.Repo, base, head, []string{t})
		},
		Progress: func(p bisect.Progress) {
			msg := fmt.Sprintf("round %d: %d commits measured, %d left between the last good and the first bad", p.Round, len(p.Steps), p.Remaining)
			if err := store.SetBisectionProgress(context.WithoutCancel(ctx), s.store.Q(), b.ID, msg); err != nil {
				log.WithError(err).Warn("bisection progress")
			}
		},
	})
	if err != nil {
		if now, gerr := store.GetBisection(context.WithoutCancel(ctx), s.store.Q(), b.ID); gerr == nil && now.State == store.BisectCancelled {
			log.Info("bisection cancelled")
			return river.JobCancel(fmt.Errorf("bisection %d cancelled: %s", b.ID, now.Note))
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		log.WithError(err).Warn("bisection failed")
		if job.Attempt < job.MaxAttempts {
			return err
		}
		return s.store.Tx(context.WithoutCancel(ctx), func(tx store.Tx) error {
			note := fmt.Sprintf("gave up after %d attempts (infrastructure, not the commits): %v", job.Attempt, err)
			if err := store.SetBisectionState(ctx, tx, b.ID, store.BisectError, note); err != nil {
				return err
			}
			_, err := s.river.InsertTx(ctx, tx, BisectReportArgs{Bisection: b.ID}, nil)
			return err
		})
	}
	data, err := json.Marshal(res)
	if err != nil {
		return err
	}
	log.WithFields(logrus.Fields{"outcome": res.Outcome, "rounds": res.Rounds, "probed": res.Probed}).Info("bisection done")
	return s.store.Tx(ctx, func(tx store.Tx) error {
		if err := store.FinishBisection(ctx, tx, b.ID, string(data)); err != nil {
			return err
		}
		_, err := s.river.InsertTx(ctx, tx, BisectReportArgs{Bisection: b.ID}, nil)
		return err
	})
}

// bisectParallel is how many commits a round measures: the config's
// bisect.parallel, else one less than the live workers serving every
// target of the bisection (at least 1).
func (s *Service) bisectParallel(ctx context.Context, targets []string) int {
	if s.cfg.Bisect.Parallel > 0 {
		return s.cfg.Bisect.Parallel
	}
	ws, err := store.Workers(ctx, s.store.Q())
	if err != nil {
		return 1
	}
	if len(targets) == 0 {
		for _, t := range s.cfg.Targets {
			targets = append(targets, t.Name)
		}
	}
	live := 0
	for _, w := range ws {
		if time.Since(w.Heartbeat) > s.deadAfter {
			continue
		}
		serves := true
		for _, t := range targets {
			if !contains(w.Targets, t) {
				serves = false
			}
		}
		if serves {
			live++
		}
	}
	return max(1, live-1)
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// probe measures a commit of a bisection as a change of its own and waits
// for it; a probe queued before a crash is found again, not queued twice.
func (s *Service) probe(b *store.Bisection) bisect.MeasureFunc {
	return func(ctx context.Context, rev, base string) (*report.Report, error) {
		var c *store.Change
		err := s.store.Tx(ctx, func(tx store.Tx) error {
			cs, err := store.ListChanges(ctx, tx, "bisection = ? AND head = ? AND base = ? AND state IN ('queued', 'running', 'done')", 1, b.ID, rev, base)
			if err != nil {
				return err
			}
			if len(cs) == 1 {
				c = cs[0]
				return nil
			}
			c = &store.Change{Repo: b.Repo, Head: rev, Base: base, Origin: "bisect", Targets: b.Targets, Bisection: b.ID,
				Note: fmt.Sprintf("bisection %d probe", b.ID)}
			return s.startChange(ctx, tx, c)
		})
		if err != nil {
			return nil, err
		}
		t := time.NewTicker(probePoll)
		defer t.Stop()
		for {
			now, err := store.GetChange(ctx, s.store.Q(), c.ID)
			if err != nil {
				return nil, err
			}
			switch now.State {
			case store.ChangeDone:
				var rep report.Report
				if err := json.Unmarshal([]byte(now.Report), &rep); err != nil {
					return nil, fmt.Errorf("probe change %d: stored report: %w", c.ID, err)
				}
				return &rep, nil
			case store.ChangeError:
				return nil, fmt.Errorf("probe change %d (%s): %s", c.ID, short(rev), now.Note)
			case store.ChangeCancelled:
				return nil, fmt.Errorf("probe change %d (%s) cancelled: %s", c.ID, short(rev), now.Note)
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-t.C:
			}
		}
	}
}

// maybeBisect starts a bisection of a finished change's regression when
// its range holds more than one commit and the config asks for it (sweeps
// by default, pushes when bisect.pushes is set). One bisection per change.
func (s *Service) maybeBisect(ctx context.Context, repo *config.Repo, c *store.Change, rep *report.Report) error {
	if rep.Verdict != compare.Regression && rep.Verdict != compare.Failed {
		return nil
	}
	switch c.Origin {
	case "sweep":
		if !s.cfg.Bisect.AutoSweeps() {
			return nil
		}
	case "push", "poll":
		if !s.cfg.Bisect.Pushes {
			return nil
		}
	default:
		return nil
	}
	n, err := s.rangeLength(repo, rep.Base, rep.Head)
	if err != nil {
		// Not a first-parent range (a force-push, a baseline off the
		// branch): nothing tcbot can bisect; the report stands.
		s.log.WithError(err).WithFields(logrus.Fields{"repo": repo.Name, "change": c.ID}).Warn("regression not bisected")
		return nil
	}
	if n < 2 {
		return nil
	}
	return s.store.Tx(ctx, func(tx store.Tx) error {
		known, err := store.ListBisections(ctx, tx, "change_id = ?", 1, c.ID)
		if err != nil || len(known) > 0 {
			return err
		}
		if c.Origin == "sweep" {
			// A regression that persists over several sweeps (same
			// baseline) is bisected once, from the first range.
			known, err = store.ListBisections(ctx, tx, "repo = ? AND origin = 'sweep' AND good = ? AND note = ? AND state <> 'cancelled'", 1, repo.Name, rep.Base, c.Note)
			if err != nil || len(known) > 0 {
				return err
			}
		}
		return s.startBisection(ctx, tx, &store.Bisection{Repo: repo.Name, Good: rep.Base, Bad: rep.Head, Origin: c.Origin, Change: c.ID, PR: c.PR, Targets: c.Targets, Note: c.Note})
	})
}

// rangeLength counts the first-parent commits after base up to head.
func (s *Service) rangeLength(repo *config.Repo, base, head string) (int, error) {
	m, err := s.mirror(repo)
	if err != nil {
		return 0, err
	}
	cs, err := m.FirstParents(base, head, 100000)
	if err != nil {
		return 0, err
	}
	return len(cs), nil
}

type bisectReportWorker struct {
	river.WorkerDefaults[BisectReportArgs]
	s *Service
}

func (w *bisectReportWorker) Work(ctx context.Context, job *river.Job[BisectReportArgs]) error {
	s := w.s
	b, err := store.GetBisection(ctx, s.store.Q(), job.Args.Bisection)
	if err != nil {
		return river.JobCancel(err)
	}
	if b.Reported || (b.State != store.BisectDone && b.State != store.BisectError) {
		return nil
	}
	repo, err := s.cfg.Repo(b.Repo)
	if err != nil {
		return river.JobCancel(err)
	}
	if s.gh != nil && repo.GitHub != "" {
		body, err := s.bisectionMarkdown(ctx, repo, b)
		if err != nil {
			return err
		}
		switch {
		case b.PR > 0:
			marker := fmt.Sprintf("<!-- tcbot:bisect id=%d -->", b.ID)
			if _, _, err := s.gh.UpsertComment(ctx, ghRepo(repo), b.PR, marker, marker+"\n"+body); err != nil {
				return err
			}
		case b.Origin == "push" || b.Origin == "poll":
			// A push: a commit status on the pushed head names the culprit
			// and links to the bisection's page.
			state, desc := "success", "bisection stopped (infrastructure): "+b.Note
			if b.State == store.BisectDone {
				var res bisect.Result
				if err := json.Unmarshal([]byte(b.Result), &res); err != nil {
					return river.JobCancel(err)
				}
				state, desc = "failure", res.Headline()
			}
			if len(desc) > 140 { // GitHub's limit for a status description
				desc = desc[:137] + "..."
			}
			if err := s.gh.SetStatus(ctx, ghRepo(repo), b.Bad, "tcbot/bisect", state, desc, s.bisectionURL(b.ID)); err != nil {
				return err
			}
		case b.Origin == "sweep" && b.Change > 0:
			c, err := store.GetChange(ctx, s.store.Q(), b.Change)
			if err != nil {
				return river.JobCancel(err)
			}
			if err := s.updateSweepIssue(ctx, repo, c); err != nil {
				return err
			}
		}
	}
	return store.MarkBisectionReported(ctx, s.store.Q(), b.ID)
}

// bisectionURL is where a bisection is on the dashboard ("" without a
// public_url).
func (s *Service) bisectionURL(id int64) string {
	if s.cfg.PublicURL == "" {
		return ""
	}
	return strings.TrimSuffix(s.cfg.PublicURL, "/") + fmt.Sprintf("/bisections/%d", id)
}

// bisectionMarkdown renders a bisection for GitHub: its result with the
// culprit's author mentioned when GitHub knows the account, or why it
// stopped.
func (s *Service) bisectionMarkdown(ctx context.Context, repo *config.Repo, b *store.Bisection) (string, error) {
	if b.State == store.BisectError {
		return fmt.Sprintf("### tcbot bisect: stopped\n\ntcbot could not finish bisecting %s..%s (infrastructure, not the commits): %s\n", short(b.Good), short(b.Bad), b.Note), nil
	}
	var res bisect.Result
	if err := json.Unmarshal([]byte(b.Result), &res); err != nil {
		return "", fmt.Errorf("bisection %d: stored result: %w", b.ID, err)
	}
	var md bytes.Buffer
	if err := bisect.Markdown(&md, &res); err != nil {
		return "", err
	}
	out := md.String()
	if u := s.bisectionURL(b.ID); u != "" {
		out += fmt.Sprintf("\n[This bisection on the dashboard](%s)\n", u)
	}
	if res.Culprit != nil && res.Outcome == bisect.Culprit && s.gh != nil && repo.GitHub != "" {
		login, err := s.gh.CommitAuthor(ctx, ghRepo(repo), res.Culprit.SHA)
		if err != nil {
			return "", err
		}
		if login != "" {
			out += fmt.Sprintf("\n@%s: tcbot bisected this regression to your commit `%s`.\n", login, short(res.Culprit.SHA))
		}
	}
	return out, nil
}

// cancelBisections cancels a pull request's unfinished bisections and
// their probes.
func (s *Service) cancelBisections(ctx context.Context, repo string, pr int, why string) (int, error) {
	bs, err := store.ListBisections(ctx, s.store.Q(), "repo = ? AND pr = ? AND state IN ('queued', 'running')", 100, repo, pr)
	if err != nil {
		return 0, err
	}
	for _, b := range bs {
		if err := store.SetBisectionState(ctx, s.store.Q(), b.ID, store.BisectCancelled, why); err != nil {
			return 0, err
		}
		probes, err := store.ListChanges(ctx, s.store.Q(), "bisection = ? AND state IN ('queued', 'running')", 1000, b.ID)
		if err != nil {
			return 0, err
		}
		if err := s.cancelChanges(ctx, probes, why); err != nil {
			return 0, err
		}
		s.runningMu.Lock()
		if cancel := s.bisecting[b.ID]; cancel != nil {
			cancel()
		}
		s.runningMu.Unlock()
	}
	return len(bs), nil
}

// bisectCommand is /tcbot bisect on a pull request: bisect its commits
// between the merge base and the head.
func (s *Service) bisectCommand(ctx context.Context, repo *config.Repo, pull *store.Pull, author string) (string, error) {
	cs, err := store.ListChanges(ctx, s.store.Q(), "repo = ? AND pr = ? AND head = ? AND state = 'done'", 1, repo.Name, pull.Number, pull.Head)
	if err != nil {
		return "", err
	}
	if len(cs) == 0 {
		return fmt.Sprintf("Nothing to bisect yet: head %s of this pull request has not been measured. tcbot bisects once its report is in.", short(pull.Head)), nil
	}
	c := cs[0]
	var rep report.Report
	if err := json.Unmarshal([]byte(c.Report), &rep); err != nil {
		return "", err
	}
	if rep.Verdict != compare.Regression && rep.Verdict != compare.Failed {
		return fmt.Sprintf("Nothing to bisect: head %s is %s against %s.", short(pull.Head), rep.Verdict, short(rep.Base)), nil
	}
	n, err := s.rangeLength(repo, rep.Base, rep.Head)
	if err != nil {
		return "", err
	}
	if n < 2 {
		return fmt.Sprintf("Nothing to bisect: this pull request has one commit (%s), and the report already names it.", short(rep.Head)), nil
	}
	running, err := store.ListBisections(ctx, s.store.Q(), "repo = ? AND pr = ? AND bad = ? AND state IN ('queued', 'running')", 1, repo.Name, pull.Number, rep.Head)
	if err != nil {
		return "", err
	}
	if len(running) > 0 {
		return fmt.Sprintf("Already bisecting %s..%s (%s).", short(rep.Base), short(rep.Head), firstNonEmpty(running[0].Progress, running[0].State)), nil
	}
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		return s.startBisection(ctx, tx, &store.Bisection{Repo: repo.Name, Good: rep.Base, Bad: rep.Head, Origin: "command", Change: c.ID, PR: pull.Number,
			Targets: c.Targets, RequestedBy: author, Note: "/tcbot bisect by @" + author})
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("Bisecting the %d commits of %s..%s; the culprit will be posted here.", n, short(rep.Base), short(rep.Head)), nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

var errNoBisection = errors.New("no bisection")

// latestBisection is the newest finished bisection of a change.
func (s *Service) latestBisection(ctx context.Context, changeIDs []int64) (*store.Bisection, *bisect.Result, error) {
	for _, id := range changeIDs {
		bs, err := store.ListBisections(ctx, s.store.Q(), "change_id = ?", 1, id)
		if err != nil {
			return nil, nil, err
		}
		if len(bs) == 0 {
			continue
		}
		b := bs[0]
		if b.State != store.BisectDone {
			return b, nil, nil
		}
		var res bisect.Result
		if err := json.Unmarshal([]byte(b.Result), &res); err != nil {
			return nil, nil, err
		}
		return b, &res, nil
	}
	return nil, nil, errNoBisection
}

// joinLines is strings.Join for markdown blocks.
func joinLines(parts ...string) string {
	var out []string
	for _, p := range parts {
		if strings.TrimSpace(p) != "" {
			out = append(out, strings.TrimRight(p, "\n"))
		}
	}
	return strings.Join(out, "\n\n") + "\n"
}
