package measure

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/explain"
	"github.com/tcbot/tcbot/bot/measure/kinds"
	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/bot/result"
	"github.com/tcbot/tcbot/bot/source"
	"github.com/tcbot/tcbot/bot/store"
)

// CompareStored compares stored results of two revisions without building
// or running anything (`tcbot compare`). Revisions are resolved in the
// local mirror; a target with no stored results on a side is an error in
// the report, never a regression.
func (m *Measurer) CompareStored(ctx context.Context, repoName, baseRev, headRev string, targetNames []string) (*report.Report, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cfg := m.Config
	repo, err := cfg.Repo(repoName)
	if err != nil {
		return nil, err
	}
	m.Recipe = m.Recipes[repo.Name]
	targets, err := cfg.SelectTargets(targetNames)
	if err != nil {
		return nil, err
	}
	mirror, err := source.Open(filepath.Join(cfg.Workdir, "git"), repo.Name, repo.URL)
	if err != nil {
		return nil, err
	}
	var commits [2]source.Commit
	for i, rev := range []string{baseRev, headRev} {
		c, err := mirror.ResolveLocal(rev)
		if err != nil {
			return nil, fmt.Errorf("%w; tcbot compare only reads what tcbot run stored: measure it first", err)
		}
		commits[i] = c
	}
	var sides [2][]result.Result
	meas := [2]map[string]*store.Measurement{{}, {}}
	var errs []string
	for _, t := range targets {
		for i, c := range commits {
			got, ok, err := m.Store.Latest(ctx, repo.Name, c.SHA, t.Name, m.Suite.Name, m.suiteVersion())
			if err != nil {
				return nil, err
			}
			if !ok {
				errs = append(errs, fmt.Sprintf("%s: no stored results for %s (%s): run tcbot run --repo %s --rev %s first", t.Name, c.SHA[:12], c.Subject, repo.Name, c.SHA))
				continue
			}
			sides[i] = append(sides[i], got.Results...)
			meas[i][t.Name] = got
		}
	}
	opts := kinds.CompareOptions(cfg, targets)
	out := compare.Compare(sides[0], sides[1], opts)
	attributeCodeSize(out.Comparisons, meas[0], meas[1])
	expl, notes := explain.Explain(ctx, out.Comparisons, meas[0], meas[1], m.explainOptions(opts, targets))
	rep := report.New(repo.Name, commits[0].SHA, commits[1].SHA, out)
	rep.Explanations = expl
	rep.Notes = append(rep.Notes, notes...)
	rep.BaseSubject, rep.HeadSubject = commits[0].Subject, commits[1].Subject
	for _, e := range errs {
		rep.AddError(e)
	}
	rep.Reproduce = report.ReproduceRun(repo.RunRepo().Flags(), commits[0].SHA, commits[1].SHA, targetNames)
	return &rep, nil
}
