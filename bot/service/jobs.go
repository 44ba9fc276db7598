package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/sirupsen/logrus"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/measure"
	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/bot/store"
	tgt "github.com/tcbot/tcbot/bot/target"
)

// Job kinds. Each is unique by its arguments among unfinished jobs.

// PullArgs decides whether a pull request head may run and starts it.
type PullArgs struct {
	Repo   string `json:"repo"`
	Number int    `json:"number"`
	Head   string `json:"head"`
}

func (PullArgs) Kind() string                 { return "tcbot_pull" }
func (PullArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{UniqueOpts: uniqueOpts()} }

// MeasureArgs measures one stored change on one of its targets. It runs
// on the target's own queue (TargetQueue), so only a process serving the
// target takes it.
type MeasureArgs struct {
	Change int64  `json:"change"`
	Target string `json:"target"`
}

func (MeasureArgs) Kind() string { return "tcbot_measure" }
func (a MeasureArgs) InsertOpts() river.InsertOpts {
	q := river.QueueDefault // no target: fan out to the targets' queues
	if a.Target != "" {
		q = TargetQueue(a.Target)
	}
	return river.InsertOpts{UniqueOpts: uniqueOpts(), MaxAttempts: 5, Queue: q}
}

// boardBusyRetry is how long a measurement waits for a board another
// worker is using.
var boardBusyRetry = 10 * time.Second

// FinishArgs joins a change's per-target results into its report once
// every target is done, and queues the report.
type FinishArgs struct {
	Change int64 `json:"change"`
}

func (FinishArgs) Kind() string { return "tcbot_finish" }

// InsertOpts: not unique. Every target that finishes queues one, so the
// last one always gets a finish job that sees it (a unique job still
// running would swallow it); the finish worker locks the change and does
// nothing when it is already joined.
func (FinishArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 25} }

// ReportArgs posts a measured change's report where it belongs. It keeps
// trying for about a day, so a GitHub outage of an hour delays the report
// but does not lose it.
type ReportArgs struct {
	Change int64 `json:"change"`
}

func (ReportArgs) Kind() string { return "tcbot_report" }
func (ReportArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: uniqueOpts(), MaxAttempts: 25}
}

// CommandArgs runs the slash commands of one pull request comment.
type CommandArgs struct {
	Repo      string `json:"repo"`
	PR        int    `json:"pr"`
	CommentID int64  `json:"comment_id"`
	Author    string `json:"author"`
	Body      string `json:"body"`
	// Head is the pull request's head as tcbot knew it when it accepted
	// the comment's delivery (the issue_comment payload has none): the
	// commit the commenter saw, and the only one /tcbot ok-to-test can
	// approve. Empty when tcbot had not seen the pull request yet.
	Head string `json:"head,omitempty"`
	// Issue is set instead of PR for a comment on a plain issue (a sweep's
	// regression issue: /tcbot accept).
	Issue int `json:"issue,omitempty"`
}

func (CommandArgs) Kind() string                 { return "tcbot_command" }
func (CommandArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{UniqueOpts: uniqueOpts()} }

// CancelArgs cancels the queued and running work of a pull request.
type CancelArgs struct {
	Repo string `json:"repo"`
	PR   int    `json:"pr"`
	Why  string `json:"why"`
}

func (CancelArgs) Kind() string { return "tcbot_cancel" }

// RerequestArgs reruns the pull request whose head is HeadSHA (GitHub's
// "Re-run" button on a check).
type RerequestArgs struct {
	Repo    string `json:"repo"`
	HeadSHA string `json:"head_sha"`
}

func (RerequestArgs) Kind() string { return "tcbot_rerequest" }

// PollArgs lists a repository's branches and turns moved heads into changes.
type PollArgs struct {
	Repo string `json:"repo"`
}

func (PollArgs) Kind() string                 { return "tcbot_poll" }
func (PollArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{UniqueOpts: uniqueOpts()} }

// SweepArgs measures the branch heads of a sweep's repositories.
type SweepArgs struct {
	Sweep string    `json:"sweep"`
	At    time.Time `json:"at"`
}

func (SweepArgs) Kind() string                 { return "tcbot_sweep" }
func (SweepArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{UniqueOpts: uniqueOpts()} }

// ReconcileArgs runs the reconcile pass.
type ReconcileArgs struct{}

func (ReconcileArgs) Kind() string                 { return "tcbot_reconcile" }
func (ReconcileArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{UniqueOpts: uniqueOpts()} }

// measureWorker measures a change.
type measureWorker struct {
	river.WorkerDefaults[MeasureArgs]
	s *Service
}

func (w *measureWorker) Work(ctx context.Context, job *river.Job[MeasureArgs]) error {
	s := w.s
	c, err := store.GetChange(ctx, s.store.Q(), job.Args.Change)
	if err != nil {
		return river.JobCancel(err)
	}
	if c.State == store.ChangeCancelled || c.State == store.ChangeDone || c.State == store.ChangeError {
		return nil
	}
	target := job.Args.Target
	if target == "" {
		// A job queued before targets had their own jobs: fan out.
		return s.store.Tx(ctx, func(tx store.Tx) error { return s.queueTargets(ctx, tx, c) })
	}
	log := s.log.WithFields(logrus.Fields{"job": job.ID, "change": c.ID, "repo": c.Repo, "head": short(c.Head), "pr": c.PR, "target": target, "worker": s.id})
	repo, err := s.cfg.Repo(c.Repo)
	if err != nil {
		return river.JobCancel(err)
	}
	ts, err := s.cfg.SelectTargets([]string{target})
	if err != nil {
		return river.JobCancel(err)
	}
	if tgt.TraitsOf(ts[0]).Exclusive {
		// One measurement on a board at a time, whichever worker host
		// takes it: two at once would time each other.
		unlock, ok, err := s.store.LockTarget(ctx, target)
		if err != nil {
			return err
		}
		if !ok {
			log.Info("the board is busy with another measurement: trying again shortly")
			return river.JobSnooze(boardBusyRetry)
		}
		defer unlock()
	}
	// A /tcbot cancel or a closed pull request interrupts the measurement
	// through this context (River also cancels it from another process on
	// PostgreSQL).
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.runningMu.Lock()
	if s.running[c.ID] == nil {
		s.running[c.ID] = map[int64]context.CancelFunc{}
	}
	s.running[c.ID][job.ID] = cancel // each target of the change has its job
	s.runningMu.Unlock()
	defer func() {
		s.runningMu.Lock()
		delete(s.running[c.ID], job.ID)
		if len(s.running[c.ID]) == 0 {
			delete(s.running, c.ID)
		}
		s.runningMu.Unlock()
	}()
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		if err := store.SetChangeTarget(ctx, tx, c.ID, target, store.TargetRunning, s.id, ""); err != nil {
			return err
		}
		return store.StartChange(ctx, tx, c.ID)
	})
	if err != nil {
		return err
	}
	base := c.Base
	if c.PR > 0 && base == "" { // a pull request: against its merge base (unless a rerun named a pinned baseline)
		if base, err = s.mergeBase(ctx, repo, c); err != nil {
			return s.giveUp(ctx, job.JobRow, repo, c, target, err)
		}
		s.setTargetStatus(ctx, repo, c, target, "pending", "measuring against "+short(base))
	}
	log.Info("measuring change")
	rep, _, err := s.meas.Run(ctx, measure.Request{Repo: c.Repo, Rev: c.Head, Base: base, Targets: []string{target}})
	if err != nil {
		if ctx.Err() != nil {
			if now, gerr := store.GetChange(context.WithoutCancel(ctx), s.store.Q(), c.ID); gerr == nil && now.State == store.ChangeCancelled {
				log.Info("measurement cancelled")
				_ = store.SetChangeTarget(context.WithoutCancel(ctx), s.store.Q(), c.ID, target, store.TargetCancelled, "", now.Note)
				return river.JobCancel(fmt.Errorf("change %d cancelled: %s", c.ID, now.Note))
			}
			return ctx.Err()
		}
		log.WithError(err).Warn("measurement failed")
		return s.giveUp(ctx, job.JobRow, repo, c, target, err)
	}
	data, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	return s.store.Tx(ctx, func(tx store.Tx) error {
		if err := store.FinishChangeTarget(ctx, tx, c.ID, target, s.id, string(data)); err != nil {
			return err
		}
		_, err := s.river.InsertTx(ctx, tx, FinishArgs{Change: c.ID}, nil)
		return err
	})
}

// queueTargets records a change's targets and queues a measurement job on
// each target's queue for those not finished (unique jobs: queuing one
// that exists is a no-op).
func (s *Service) queueTargets(ctx context.Context, tx store.Tx, c *store.Change) error {
	targets, err := s.cfg.SelectTargets(c.Targets)
	if err != nil {
		return err
	}
	var names []string
	for _, t := range targets {
		names = append(names, t.Name)
	}
	if err := store.AddChangeTargets(ctx, tx, c.ID, names); err != nil {
		return err
	}
	cts, err := store.ChangeTargets(ctx, tx, c.ID)
	if err != nil {
		return err
	}
	unfinished := 0
	for _, ct := range cts {
		if ct.State != store.TargetQueued && ct.State != store.TargetRunning {
			continue
		}
		unfinished++
		if _, err := s.river.InsertTx(ctx, tx, MeasureArgs{Change: c.ID, Target: ct.Target}, nil); err != nil {
			return err
		}
	}
	if unfinished == 0 {
		_, err := s.river.InsertTx(ctx, tx, FinishArgs{Change: c.ID}, nil)
		return err
	}
	return nil
}

// finishWorker joins the targets of a change.
type finishWorker struct {
	river.WorkerDefaults[FinishArgs]
	s *Service
}

func (w *finishWorker) Work(ctx context.Context, job *river.Job[FinishArgs]) error {
	s := w.s
	return s.store.Tx(ctx, func(tx store.Tx) error {
		// Lock the change: two finish jobs never join it at once.
		if err := store.LockChange(ctx, tx, job.Args.Change); err != nil {
			return err
		}
		c, err := store.GetChange(ctx, tx, job.Args.Change)
		if err != nil {
			return river.JobCancel(err)
		}
		if c.State != store.ChangeQueued && c.State != store.ChangeRunning {
			return nil
		}
		cts, err := store.ChangeTargets(ctx, tx, c.ID)
		if err != nil {
			return err
		}
		var parts []report.Report
		var failed []string
		for _, ct := range cts {
			switch ct.State {
			case store.TargetQueued, store.TargetRunning:
				return nil // the last target to finish queues another finish
			case store.TargetDone:
				var rep report.Report
				if err := json.Unmarshal([]byte(ct.Report), &rep); err != nil {
					return river.JobCancel(fmt.Errorf("change %d, target %s: stored report: %w", c.ID, ct.Target, err))
				}
				parts = append(parts, rep)
			case store.TargetError:
				failed = append(failed, ct.Target+": tcbot could not measure it (infrastructure, not the change): "+ct.Note)
			}
		}
		if len(parts) == 0 {
			// Nothing measured anywhere: an infrastructure error, never a
			// verdict on the change.
			note := strings.Join(failed, "; ")
			if note == "" {
				note = "no target was measured"
			}
			if err := store.SetChangeState(ctx, tx, c.ID, store.ChangeError, note); err != nil {
				return err
			}
			return nil
		}
		rep := report.Merge(parts, s.reproduce(c.Repo, parts[0].Base, c.Head, c.Targets),
			compare.Options{MinEffect: s.cfg.Compare.MinEffect, Q: s.cfg.Compare.FDR})
		for _, f := range failed {
			rep.AddError(f)
		}
		rep.URL = s.changeURL(c.ID)
		data, err := json.Marshal(rep)
		if err != nil {
			return err
		}
		if err := store.FinishChange(ctx, tx, c.ID, rep.Base, string(rep.Verdict), string(data)); err != nil {
			return err
		}
		_, err = s.river.InsertTx(ctx, tx, ReportArgs{Change: c.ID}, nil)
		return err
	})
}

// mergeBase fetches a pull request's head (refs/pull/N/head from the
// configured URL) and its base branch, and returns their merge base.
func (s *Service) mergeBase(ctx context.Context, repo *config.Repo, c *store.Change) (string, error) {
	mirror, err := s.mirror(repo)
	if err != nil {
		return "", err
	}
	pull, ok, err := store.GetPull(ctx, s.store.Q(), repo.Name, c.PR)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("pull request %d of %s is unknown", c.PR, repo.Name)
	}
	if _, err := mirror.FetchPull(ctx, c.PR); err != nil {
		return "", err
	}
	if err := mirror.Fetch(ctx, true); err != nil {
		return "", err
	}
	baseHead, err := mirror.ResolveLocal(pull.BaseRef)
	if err != nil {
		return "", err
	}
	return mirror.MergeBase(c.Head, baseHead.SHA)
}

// giveUp returns err for River to retry, and on the last attempt marks
// the target as an infrastructure error (never a regression), says so on
// the target's commit status, and lets the change finish without it.
func (s *Service) giveUp(ctx context.Context, job *rivertype.JobRow, repo *config.Repo, c *store.Change, target string, err error) error {
	if job.Attempt < job.MaxAttempts {
		return err
	}
	note := "gave up after " + fmt.Sprint(job.Attempt) + " attempts: " + err.Error()
	serr := s.store.Tx(ctx, func(tx store.Tx) error {
		if err := store.SetChangeTarget(ctx, tx, c.ID, target, store.TargetError, s.id, note); err != nil {
			return err
		}
		_, err := s.river.InsertTx(ctx, tx, FinishArgs{Change: c.ID}, nil)
		return err
	})
	if serr != nil {
		return serr
	}
	s.setTargetStatus(ctx, repo, c, target, "error", "tcbot could not measure this (infrastructure, not the change): "+err.Error())
	return river.JobCancel(err)
}

// cancelWorker cancels the work of a pull request.
type cancelWorker struct {
	river.WorkerDefaults[CancelArgs]
	s *Service
}

func (w *cancelWorker) Work(ctx context.Context, job *river.Job[CancelArgs]) error {
	n, err := w.s.cancelPR(ctx, job.Args.Repo, job.Args.PR, job.Args.Why)
	w.s.log.WithFields(logrus.Fields{"repo": job.Args.Repo, "pr": job.Args.PR, "cancelled": n}).Info("cancelled pull request work")
	return err
}

// cancelPR marks the PR's unfinished changes cancelled and cancels their
// jobs (a running measurement is interrupted through its context).
func (s *Service) cancelPR(ctx context.Context, repo string, pr int, why string) (int, error) {
	changes, err := store.ListChanges(ctx, s.store.Q(), "repo = ? AND pr = ? AND state IN ('queued', 'running')", 100, repo, pr)
	if err != nil {
		return 0, err
	}
	if err := s.cancelChanges(ctx, changes, why); err != nil {
		return 0, err
	}
	nb, err := s.cancelBisections(ctx, repo, pr, why)
	return len(changes) + nb, err
}

// cancelChanges marks changes cancelled and cancels their jobs (a running
// measurement is interrupted through its context).
func (s *Service) cancelChanges(ctx context.Context, changes []*store.Change, why string) error {
	for _, c := range changes {
		if err := store.SetChangeState(ctx, s.store.Q(), c.ID, store.ChangeCancelled, why); err != nil {
			return err
		}
		if err := store.CancelChangeTargets(ctx, s.store.Q(), c.ID, why); err != nil {
			return err
		}

		s.runningMu.Lock()
		for _, cancel := range s.running[c.ID] {
			cancel()
		}
		s.runningMu.Unlock()
	}
	ids, err := s.jobsOf(ctx, changes)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := s.river.JobCancel(ctx, id); err != nil && !errors.Is(err, river.ErrNotFound) {
			return err
		}
	}
	return nil
}

// jobsOf finds the unfinished measure jobs of changes.
func (s *Service) jobsOf(ctx context.Context, changes []*store.Change) ([]int64, error) {
	want := map[int64]bool{}
	for _, c := range changes {
		want[c.ID] = true
	}
	res, err := s.river.JobList(ctx, river.NewJobListParams().Kinds(MeasureArgs{}.Kind()).
		States(rivertype.JobStateAvailable, rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled).First(1000))
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, j := range res.Jobs {
		var a MeasureArgs
		if json.Unmarshal(j.EncodedArgs, &a) == nil && want[a.Change] {
			ids = append(ids, j.ID)
		}
	}
	return ids, nil
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// errorHandler logs failed jobs with their kind and arguments.
type errorHandler struct{ s *Service }

func (h *errorHandler) HandleError(ctx context.Context, job *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	h.s.log.WithFields(logrus.Fields{"job": job.ID, "kind": job.Kind, "attempt": job.Attempt}).WithError(err).Warn("job failed; River retries it with backoff")
	return nil
}

func (h *errorHandler) HandlePanic(ctx context.Context, job *rivertype.JobRow, v any, trace string) *river.ErrorHandlerResult {
	h.s.log.WithFields(logrus.Fields{"job": job.ID, "kind": job.Kind}).Errorf("job panicked: %v\n%s", v, trace)
	return nil
}

// latencyMiddleware records how long jobs waited in the queue.
type latencyMiddleware struct {
	river.MiddlewareDefaults
	s *Service
}

func (m *latencyMiddleware) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	m.s.metrics.queueLatency.WithLabelValues(job.Kind).Observe(time.Since(job.ScheduledAt).Seconds())
	err := doInner(ctx)
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.s.metrics.jobs.WithLabelValues(job.Kind, result).Inc()
	return err
}

// reproduce is the command that measures head against base of repo on a
// user's own machine (the repository's URL, not this server's config).
func (s *Service) reproduce(repo, base, head string, targets []string) string {
	r, err := s.cfg.Repo(repo)
	if err != nil {
		return report.ReproduceCommand("", repo, base, head, targets)
	}
	return report.ReproduceRun(r.RunRepo().Flags(), base, head, targets)
}
