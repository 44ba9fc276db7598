package service

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/sirupsen/logrus"

	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/measure"
	"github.com/tcbot/tcbot/bot/store"
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

// MeasureArgs measures one stored change on its targets.
type MeasureArgs struct {
	Change int64 `json:"change"`
}

func (MeasureArgs) Kind() string { return "tcbot_measure" }
func (MeasureArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: uniqueOpts(), MaxAttempts: 5}
}

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
	c, err := store.GetChange(ctx, s.store.DB(), job.Args.Change)
	if err != nil {
		return river.JobCancel(err)
	}
	if c.State == store.ChangeCancelled || c.State == store.ChangeDone {
		return nil
	}
	log := s.log.WithFields(logrus.Fields{"job": job.ID, "change": c.ID, "repo": c.Repo, "head": short(c.Head), "pr": c.PR})
	repo, err := s.cfg.Repo(c.Repo)
	if err != nil {
		return river.JobCancel(err)
	}
	// A /tcbot cancel or a closed pull request interrupts the measurement
	// through this context, whatever the queue's notification support.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.runningMu.Lock()
	s.running[c.ID] = cancel
	s.runningMu.Unlock()
	defer func() {
		s.runningMu.Lock()
		delete(s.running, c.ID)
		s.runningMu.Unlock()
	}()
	if err := store.SetChangeState(ctx, s.store.DB(), c.ID, store.ChangeRunning, ""); err != nil {
		return err
	}
	base := c.Base
	if c.PR > 0 {
		if base, err = s.mergeBase(ctx, repo, c); err != nil {
			return s.giveUp(ctx, job.JobRow, repo, c, err)
		}
		s.setStatuses(ctx, repo, c, "pending", "measuring against "+short(base))
	}
	log.Info("measuring change")
	rep, _, err := s.meas.Run(ctx, measure.Request{Repo: c.Repo, Rev: c.Head, Base: base, Targets: c.Targets})
	if err != nil {
		if ctx.Err() != nil {
			if now, gerr := store.GetChange(context.WithoutCancel(ctx), s.store.DB(), c.ID); gerr == nil && now.State == store.ChangeCancelled {
				log.Info("measurement cancelled")
				return river.JobCancel(fmt.Errorf("change %d cancelled: %s", c.ID, now.Note))
			}
			return ctx.Err()
		}
		log.WithError(err).Warn("measurement failed")
		return s.giveUp(ctx, job.JobRow, repo, c, err)
	}
	data, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	return s.store.Tx(ctx, func(tx *sql.Tx) error {
		if err := store.FinishChange(ctx, tx, c.ID, rep.Base, string(rep.Verdict), string(data)); err != nil {
			return err
		}
		_, err := s.river.InsertTx(ctx, tx, ReportArgs{Change: c.ID}, nil)
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
	pull, ok, err := store.GetPull(ctx, s.store.DB(), repo.Name, c.PR)
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

// giveUp returns err for River to retry, and on the last attempt marks the
// change as an infrastructure error (never a regression) so it stops
// waiting, and says so on the commit's statuses.
func (s *Service) giveUp(ctx context.Context, job *rivertype.JobRow, repo *config.Repo, c *store.Change, err error) error {
	if job.Attempt < job.MaxAttempts {
		return err
	}
	note := "gave up after " + fmt.Sprint(job.Attempt) + " attempts: " + err.Error()
	if serr := store.SetChangeState(ctx, s.store.DB(), c.ID, store.ChangeError, note); serr != nil {
		return serr
	}
	s.setStatuses(ctx, repo, c, "error", "tcbot could not measure this (infrastructure, not the change): "+err.Error())
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
	changes, err := store.ListChanges(ctx, s.store.DB(), "repo = ? AND pr = ? AND state IN ('queued', 'running')", 100, repo, pr)
	if err != nil {
		return 0, err
	}
	for _, c := range changes {
		if err := store.SetChangeState(ctx, s.store.DB(), c.ID, store.ChangeCancelled, why); err != nil {
			return 0, err
		}
		s.runningMu.Lock()
		if cancel, ok := s.running[c.ID]; ok {
			cancel()
		}
		s.runningMu.Unlock()
	}
	ids, err := s.jobsOf(ctx, changes)
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		if _, err := s.river.JobCancel(ctx, id); err != nil && !errors.Is(err, river.ErrNotFound) {
			return 0, err
		}
	}
	return len(changes), nil
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
