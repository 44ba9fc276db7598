package service

import (
	"context"
	"errors"

	"github.com/riverqueue/river"
	"github.com/sirupsen/logrus"

	"github.com/tcbot/tcbot/bot/source"
	"github.com/tcbot/tcbot/bot/store"
)

// pollWorker lists a repository's branches (ls-remote, no fetch) and turns
// each watched branch that moved into a change measured against the
// previous head tcbot took of it. Fetching happens only when a change is
// measured.
type pollWorker struct {
	river.WorkerDefaults[PollArgs]
	s *Service
}

func (w *pollWorker) Work(ctx context.Context, job *river.Job[PollArgs]) error {
	if _, err := w.s.cfg.Repo(job.Args.Repo); err != nil {
		return river.JobCancel(err)
	}
	return w.s.Poll(ctx, job.Args.Repo)
}

// Poll lists a repository's branches once and queues changes for watched
// branches that moved.
func (s *Service) Poll(ctx context.Context, repoName string) error {
	repo, err := s.cfg.Repo(repoName)
	if err != nil {
		return err
	}
	heads, err := source.ListBranches(ctx, repo.URL)
	if err != nil {
		return err
	}
	log := s.log.WithField("repo", repo.Name)
	for _, b := range repo.Branches {
		err := s.store.Tx(ctx, func(tx store.Tx) error {
			return s.branchMovedTx(ctx, tx, repo.Name, b, heads[b], "poll", false, true, log)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// sweepWorker measures the heads of every watched branch of a sweep's
// repositories against the head the previous sweep measured.
type sweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	s *Service
}

func (w *sweepWorker) Work(ctx context.Context, job *river.Job[SweepArgs]) error {
	err := w.s.Sweep(ctx, job.Args.Sweep)
	if errors.Is(err, errNoSweep) {
		return river.JobCancel(err)
	}
	return err
}

var errNoSweep = errors.New("no such sweep in the config")

// reconcileWorker heals what a crash, a missed webhook or an outage left
// behind.
type reconcileWorker struct {
	river.WorkerDefaults[ReconcileArgs]
	s *Service
}

func (w *reconcileWorker) Work(ctx context.Context, job *river.Job[ReconcileArgs]) error {
	return w.s.Reconcile(ctx)
}

// Reconcile queues what should be queued and is not: measurements of
// unfinished changes, reports of finished ones, and pull requests whose
// head moved while tcbot was not listening. Jobs are unique by their
// arguments, so queuing an existing job again is a no-op.
func (s *Service) Reconcile(ctx context.Context) error {
	db := s.store.Q()
	pending, err := store.ListChanges(ctx, db, "state IN ('queued', 'running')", 1000)
	if err != nil {
		return err
	}
	for _, c := range pending {
		if err := s.store.Tx(ctx, func(tx store.Tx) error { return s.queueTargets(ctx, tx, c) }); err != nil {
			return err
		}
	}
	unreported, err := store.ListChanges(ctx, db, "state = 'done' AND reported = 0", 1000)
	if err != nil {
		return err
	}
	for _, c := range unreported {
		if _, err := s.river.Insert(ctx, ReportArgs{Change: c.ID}, nil); err != nil {
			return err
		}
	}
	// Bisections: each waits for its probes, so a crash leaves them
	// running; their job runs again and finds its probes.
	bs, err := store.ListBisections(ctx, db, "state IN ('queued', 'running')", 1000)
	if err != nil {
		return err
	}
	for _, b := range bs {
		if _, err := s.river.Insert(ctx, BisectArgs{Bisection: b.ID}, nil); err != nil {
			return err
		}
	}
	bs, err = store.ListBisections(ctx, db, "state IN ('done', 'error') AND reported = 0", 1000)
	if err != nil {
		return err
	}
	for _, b := range bs {
		if _, err := s.river.Insert(ctx, BisectReportArgs{Bisection: b.ID}, nil); err != nil {
			return err
		}
	}
	if s.gh == nil {
		return nil
	}
	for i := range s.cfg.Repos {
		repo := &s.cfg.Repos[i]
		if repo.GitHub == "" {
			continue
		}
		prs, err := s.gh.OpenPullRequests(ctx, ghRepo(repo))
		if err != nil {
			s.log.WithError(err).WithField("repo", repo.Name).Warn("reconcile: cannot list pull requests")
			continue
		}
		open := map[int]bool{}
		for _, pr := range prs {
			open[pr.Number] = true
			known, ok, err := store.GetPull(ctx, db, repo.Name, pr.Number)
			if err != nil {
				return err
			}
			if ok && known.Head == pr.HeadSHA && known.Open && known.Draft == pr.Draft {
				continue
			}
			s.log.WithFields(logrus.Fields{"repo": repo.Name, "pr": pr.Number, "head": short(pr.HeadSHA)}).Info("reconcile: pull request moved while tcbot was not listening")
			err = s.store.Tx(ctx, func(tx store.Tx) error {
				if err := store.UpsertPull(ctx, tx, store.Pull{Repo: repo.Name, Number: pr.Number, Head: pr.HeadSHA, BaseRef: pr.BaseRef, Author: pr.Author, Draft: pr.Draft, Open: true}); err != nil {
					return err
				}
				if pr.Draft {
					return nil
				}
				_, err := s.river.InsertTx(ctx, tx, PullArgs{Repo: repo.Name, Number: pr.Number, Head: pr.HeadSHA}, nil)
				return err
			})
			if err != nil {
				return err
			}
		}
		stored, err := store.OpenPulls(ctx, db, repo.Name)
		if err != nil {
			return err
		}
		for _, p := range stored {
			if !open[p.Number] {
				p.Open = false
				if err := store.UpsertPull(ctx, db, p); err != nil {
					return err
				}
				if _, err := s.cancelPR(ctx, repo.Name, p.Number, "pull request closed"); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
