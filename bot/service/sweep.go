package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/forge"
	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/bot/source"
	"github.com/tcbot/tcbot/bot/store"
)

// Sweeps compare each branch head with the branch's last good measured
// commit (Linaro TCWG's round-robin baseline), not with the previous
// sweep's head: the baseline advances only when a sweep finds nothing
// wrong, so a regression stays one until it is fixed (a later head back
// within threshold of the baseline) or accepted (/tcbot accept on its
// issue). Two branch_heads keys per sweep and branch hold the state:
//
//	sweep:NAME:BRANCH       the last head the sweep took
//	sweep-good:NAME:BRANCH  the last good baseline

func sweepHeadKey(sweep, branch string) string { return "sweep:" + sweep + ":" + branch }
func sweepGoodKey(sweep, branch string) string { return "sweep-good:" + sweep + ":" + branch }
func sweepNote(sweep, branch string) string    { return "sweep " + sweep + " " + branch }

// Sweep queues the measurement of every watched branch head of a sweep's
// repositories against the branch's last good baseline. One unreachable
// repository does not stop the others.
func (s *Service) Sweep(ctx context.Context, name string) error {
	var sweep *config.Sweep
	for i := range s.cfg.Sweeps {
		if s.cfg.Sweeps[i].Name == name {
			sweep = &s.cfg.Sweeps[i]
		}
	}
	if sweep == nil {
		return fmt.Errorf("sweep %q: %w", name, errNoSweep)
	}
	var errs []error
	for _, name := range sweep.Repos {
		repo, err := s.cfg.Repo(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		heads, err := source.ListBranches(ctx, repo.URL)
		if err != nil {
			// One unreachable repository must not stop the sweep.
			s.log.WithError(err).WithField("repo", name).Warn("sweep: cannot list branches")
			errs = append(errs, err)
			continue
		}
		branches := append([]string(nil), repo.Branches...)
		sort.Strings(branches)
		for _, b := range branches {
			if head := heads[b]; head != "" {
				if err := s.sweepBranch(ctx, sweep.Name, repo, b, head); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("sweep %s: %d problem(s), first: %w", sweep.Name, len(errs), errs[0])
	}
	return nil
}

func (s *Service) sweepBranch(ctx context.Context, sweep string, repo *config.Repo, branch, head string) error {
	log := s.log.WithFields(logrus.Fields{"sweep": sweep, "repo": repo.Name, "branch": branch, "head": short(head)})
	return s.store.Tx(ctx, func(tx store.Tx) error {
		prev, err := store.BranchHead(ctx, tx, repo.Name, sweepHeadKey(sweep, branch))
		if err != nil {
			return err
		}
		good, err := store.BranchHead(ctx, tx, repo.Name, sweepGoodKey(sweep, branch))
		if err != nil {
			return err
		}
		if good == "" {
			good = prev // a database from before baselines: the last head
		}
		if prev == "" {
			// The first sweep of a branch sets its baseline.
			log.Info("sweep: baseline taken")
			if err := store.SetBranchHead(ctx, tx, repo.Name, sweepHeadKey(sweep, branch), head); err != nil {
				return err
			}
			return store.SetBranchHead(ctx, tx, repo.Name, sweepGoodKey(sweep, branch), head)
		}
		note := sweepNote(sweep, branch)
		if prev == head {
			// No new commits: measure only targets the last sweep of this
			// head did not (added to the config since).
			missing, base, err := s.unmeasuredTargets(ctx, tx, repo.Name, note, head)
			if err != nil {
				return err
			}
			if len(missing) == 0 || base == "" {
				log.Info("sweep: no new commits")
				return nil
			}
			log.WithField("targets", missing).Info("sweep: no new commits; measuring the targets added since")
			return s.startChange(ctx, tx, &store.Change{Repo: repo.Name, Head: head, Base: base, Origin: "sweep", Branch: branch, Targets: missing, Note: note})
		}
		if err := store.SetBranchHead(ctx, tx, repo.Name, sweepHeadKey(sweep, branch), head); err != nil {
			return err
		}
		// The drift of the head since each pinned baseline (a release):
		// changes of their own, reported in the sweep's issue and on the
		// dashboard.
		for _, name := range repo.BaselineNames() {
			c := &store.Change{Repo: repo.Name, Head: head, Base: repo.Baselines[name], Origin: "drift", Note: driftNote(sweep, branch, name)}
			if err := s.startChange(ctx, tx, c); err != nil {
				return err
			}
		}
		if good == head {
			return nil
		}
		return s.startChange(ctx, tx, &store.Change{Repo: repo.Name, Head: head, Base: good, Origin: "sweep", Branch: branch, Note: note})
	})
}

// driftReported refreshes the issue of the sweep whose head the drift
// change measured, when that sweep regressed (the table joins the issue).
func (s *Service) driftReported(ctx context.Context, repo *config.Repo, c *store.Change) error {
	f := strings.Fields(c.Note) // drift SWEEP BRANCH @NAME
	if len(f) != 4 {
		return nil
	}
	cs, err := store.ListChanges(ctx, s.store.Q(), "repo = ? AND origin = 'sweep' AND note = ? AND head = ? AND state = 'done' AND verdict IN ('regression', 'failed')", 1, repo.Name, sweepNote(f[1], f[2]), c.Head)
	if err != nil || len(cs) == 0 {
		return err
	}
	return s.updateSweepIssue(ctx, repo, cs[0])
}

func driftNote(sweep, branch, baseline string) string {
	return "drift " + sweep + " " + branch + " @" + baseline
}

// driftMarkdown is the table of a head's drift since each pinned
// baseline: per target and metric, the geomean of head/baseline.
func (s *Service) driftMarkdown(ctx context.Context, repo *config.Repo, sweep, branch, head string) (string, error) {
	var b strings.Builder
	for _, name := range repo.BaselineNames() {
		cs, err := store.ListChanges(ctx, s.store.Q(), "repo = ? AND origin = 'drift' AND note = ? AND head = ? AND state = 'done'", 1, repo.Name, driftNote(sweep, branch, name), head)
		if err != nil {
			return "", err
		}
		if len(cs) == 0 {
			continue
		}
		var r report.Report
		if err := json.Unmarshal([]byte(cs[0].Report), &r); err != nil {
			return "", err
		}
		if b.Len() == 0 {
			fmt.Fprintf(&b, "### Drift since the pinned baselines\n\n| baseline | target | metric | geomean head/baseline | benchmarks |\n| --- | --- | --- | ---: | ---: |\n")
		}
		for _, g := range r.Geomeans {
			fmt.Fprintf(&b, "| @%s `%s` | %s | %s | %+.2f%% | %d |\n", name, short(r.Base), g.Target, g.Metric, g.DeltaPct, g.N)
		}
	}
	return b.String(), nil
}

// unmeasuredTargets lists the configured targets no finished sweep change
// of head measured, and the base that change used.
func (s *Service) unmeasuredTargets(ctx context.Context, q store.Querier, repo, note, head string) (missing []string, base string, err error) {
	cs, err := store.ListChanges(ctx, q, "repo = ? AND origin = 'sweep' AND note = ? AND head = ? AND state IN ('queued', 'running', 'done')", 50, repo, note, head)
	if err != nil || len(cs) == 0 {
		return nil, "", err
	}
	done := map[string]bool{}
	for _, c := range cs {
		if base == "" {
			base = c.Base
		}
		cts, err := store.ChangeTargets(ctx, q, c.ID)
		if err != nil {
			return nil, "", err
		}
		for _, ct := range cts {
			if ct.State != store.TargetError && ct.State != store.TargetCancelled {
				done[ct.Target] = true
			}
		}
	}
	for _, t := range s.cfg.Targets {
		if !done[t.Name] {
			missing = append(missing, t.Name)
		}
	}
	return missing, base, nil
}

// sweepOf splits a sweep change's note into its sweep and branch.
func sweepOf(c *store.Change) (sweep, branch string) {
	sweep, branch, _ = strings.Cut(strings.TrimPrefix(c.Note, "sweep "), " ")
	return sweep, branch
}

// sweepReported moves the baseline after a clean sweep and keeps the
// branch's issue: opened or updated while the regression persists, closed
// when a head is back within threshold of the last good baseline.
func (s *Service) sweepReported(ctx context.Context, repo *config.Repo, c *store.Change, rep *report.Report) error {
	sweep, branch := sweepOf(c)
	switch rep.Verdict {
	case compare.Error:
		return nil // says nothing about the regression either way
	case compare.Regression, compare.Failed:
		return s.updateSweepIssue(ctx, repo, c)
	}
	good, err := store.BranchHead(ctx, s.store.Q(), repo.Name, sweepGoodKey(sweep, branch))
	if err != nil {
		return err
	}
	if good == c.Base {
		if err := store.SetBranchHead(ctx, s.store.Q(), repo.Name, sweepGoodKey(sweep, branch), c.Head); err != nil {
			return err
		}
	}
	if s.gh == nil || repo.GitHub == "" {
		return nil
	}
	_, err = s.gh.CloseIssue(ctx, ghRepo(repo), sweepMarker(sweep, repo.Name, branch),
		fmt.Sprintf("The sweep of %s at %s is back within threshold of the last good baseline %s (%s): closing.", branch, short(c.Head), short(c.Base), rep.Verdict))
	return err
}

// updateSweepIssue writes the regression issue of c's sweep and branch:
// the newest regression report against the last good baseline, the
// bisection of the regression (or its progress), and the history of the
// sweeps that saw it.
func (s *Service) updateSweepIssue(ctx context.Context, repo *config.Repo, c *store.Change) error {
	if s.gh == nil || repo.GitHub == "" {
		return nil
	}
	sweep, branch := sweepOf(c)
	seen, err := store.ListChanges(ctx, s.store.Q(), "repo = ? AND origin = 'sweep' AND note = ? AND base = ? AND state = 'done' AND verdict IN ('regression', 'failed')", 100, repo.Name, c.Note, c.Base)
	if err != nil {
		return err
	}
	if len(seen) == 0 {
		return nil
	}
	latest := seen[0]
	var rep report.Report
	if err := json.Unmarshal([]byte(latest.Report), &rep); err != nil {
		return fmt.Errorf("change %d: stored report: %w", latest.ID, err)
	}
	var md bytes.Buffer
	rep.URL = s.changeURL(latest.ID)
	if err := report.Markdown(&md, rep); err != nil {
		return err
	}
	// The bisection: of the oldest change that saw the regression (that
	// range holds the culprit), else of any later one.
	var ids []int64
	for i := len(seen) - 1; i >= 0; i-- {
		ids = append(ids, seen[i].ID)
	}
	bisection := ""
	if b, res, err := s.latestBisection(ctx, ids); err == nil {
		switch {
		case res != nil:
			if bisection, err = s.bisectionMarkdown(ctx, repo, b); err != nil {
				return err
			}
		case b.State == store.BisectError:
			bisection, _ = s.bisectionMarkdown(ctx, repo, b)
		default:
			bisection = fmt.Sprintf("### tcbot bisect: %s\n\nBisecting %s..%s: %s\n", b.State, short(b.Good), short(b.Bad), firstNonEmpty(b.Progress, "queued"))
		}
	} else if err != errNoBisection {
		return err
	}
	var hist strings.Builder
	fmt.Fprintf(&hist, "### Sweeps that saw it\n\nBaseline: `%s` (the last good sweep of %s). The issue closes when a sweep is back within threshold of it, or when a maintainer comments `/tcbot accept [why]`.\n\n| sweep | head | verdict | worst |\n| --- | --- | --- | --- |\n", short(c.Base), branch)
	for _, h := range seen {
		var r report.Report
		_ = json.Unmarshal([]byte(h.Report), &r)
		fmt.Fprintf(&hist, "| %s | `%s` | %s | %s |\n", h.CreatedAt.UTC().Format("2006-01-02 15:04"), short(h.Head), h.Verdict, worst(&r))
	}
	marker := sweepMarker(sweep, repo.Name, branch)
	title := fmt.Sprintf("tcbot: %s on %s %s (sweep %s)", rep.Verdict, repo.Name, branch, sweep)
	drift, err := s.driftMarkdown(ctx, repo, sweep, branch, latest.Head)
	if err != nil {
		return err
	}
	body := forge.CapBody(marker+"\n"+joinLines(md.String(), bisection, hist.String(), drift), s.changeURL(latest.ID))
	number, _, err := s.gh.UpsertIssue(ctx, ghRepo(repo), marker, title, body)
	if err != nil {
		return err
	}
	return store.RecordSweepIssue(ctx, s.store.Q(), store.SweepIssue{Repo: repo.Name, Number: number, Sweep: sweep, Branch: branch})
}

// worst is a report's largest regression, for the history table.
func worst(r *report.Report) string {
	best := ""
	var size float64
	for _, c := range r.Comparisons {
		switch {
		case c.Verdict == compare.Failed && size >= 0:
			return fmt.Sprintf("%s %s fails on %s", c.Benchmark, c.Metric, c.Target)
		case c.Verdict == compare.Regression && c.DeltaPct != nil && *c.DeltaPct > size:
			size = *c.DeltaPct
			best = fmt.Sprintf("%s %s %+.2f%% on %s", c.Benchmark, c.Metric, *c.DeltaPct, c.Target)
		}
	}
	return best
}

// accept is /tcbot accept on a sweep's regression issue: the regression
// is intended. The branch's baseline moves to the newest swept head, the
// acceptance is recorded (who, why), and the issue closes.
func (s *Service) accept(ctx context.Context, repo *config.Repo, a CommandArgs, args []string) (string, error) {
	si, ok, err := store.GetSweepIssue(ctx, s.store.Q(), repo.Name, a.Issue)
	if err != nil {
		return "", err
	}
	if !ok {
		return "`/tcbot accept` works on the issues tcbot opens for a sweep's regression; this is not one of them.", nil
	}
	head, err := store.BranchHead(ctx, s.store.Q(), repo.Name, sweepHeadKey(si.Sweep, si.Branch))
	if err != nil {
		return "", err
	}
	good, err := store.BranchHead(ctx, s.store.Q(), repo.Name, sweepGoodKey(si.Sweep, si.Branch))
	if err != nil {
		return "", err
	}
	why := strings.Join(args, " ")
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		if err := store.SetBranchHead(ctx, tx, repo.Name, sweepGoodKey(si.Sweep, si.Branch), head); err != nil {
			return err
		}
		return store.InsertAcceptance(ctx, tx, store.Acceptance{Repo: repo.Name, Branch: si.Branch, SHA: head, By: a.Author, Why: why, Issue: a.Issue})
	})
	if err != nil {
		return "", err
	}
	s.log.WithFields(logrus.Fields{"repo": repo.Name, "branch": si.Branch, "from": short(good), "to": short(head), "by": a.Author}).Info("regression accepted: the baseline moves")
	msg := fmt.Sprintf("Accepted by @%s", a.Author)
	if why != "" {
		msg += ": " + why
	}
	msg += fmt.Sprintf(". The baseline of %s (sweep %s) moves from %s to %s; later sweeps compare with it.", si.Branch, si.Sweep, short(good), short(head))
	if _, err := s.gh.CloseIssue(ctx, ghRepo(repo), sweepMarker(si.Sweep, repo.Name, si.Branch), msg); err != nil {
		return "", err
	}
	return "", nil
}
