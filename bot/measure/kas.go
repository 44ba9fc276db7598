package measure

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/executor"
	"github.com/tcbot/tcbot/bot/oe"
	"github.com/tcbot/tcbot/bot/oebuild"
	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/bot/result"
	"github.com/tcbot/tcbot/bot/source"
	"github.com/tcbot/tcbot/bot/store"
)

// runKas measures a change with an OpenEmbedded recipe: for base and head,
// on every target's arch, `kas build` of the LAMP image with the
// repository's component pinned to the revision, then buildhistory and
// buildstats become results. Builds run one at a time: each already uses
// every core of the build host.
func (m *Measurer) runKas(ctx context.Context, req Request, repo *config.Repo, targets []config.Target, base, head source.Commit, start time.Time) (*report.Report, Stats, error) {
	var st Stats
	if repo.Component == "" {
		return nil, st, fmt.Errorf("%s: repo %s: component: missing: recipe %s builds OpenEmbedded with the repository as gcc, binutils, glibc or linux; say which", m.Config.Path, repo.Name, m.Recipe.Name)
	}
	version, err := m.oeVersion()
	if err != nil {
		return nil, st, err
	}
	branch := "main"
	if len(repo.Branches) > 0 {
		branch = repo.Branches[0]
	}
	log := m.Log.WithFields(logrus.Fields{"repo": repo.Name, "recipe": m.Recipe.Name})
	local := executor.NewLocal()
	var baseResults, headResults []result.Result
	var errs []string
	for _, t := range targets {
		if _, ok := m.Recipe.Kas.Projects[t.Arch]; !ok {
			errs = append(errs, fmt.Sprintf("%s: recipe %s builds no image for %s", t.Name, m.Recipe.Name, t.Arch))
			continue
		}
		for _, side := range []struct {
			c   source.Commit
			dst *[]result.Result
		}{{base, &baseResults}, {head, &headResults}} {
			c := side.c
			key := store.Key{Repo: repo.Name, Revision: c.SHA, ToolchainID: "oe-" + repo.Component + "-" + targetID(t), Target: t.Name, Suite: m.Recipe.Suite, SuiteVersion: version}
			meas, ok, err := m.Store.Get(ctx, key)
			if err != nil {
				return nil, st, err
			}
			if !ok {
				meas, err = m.kasBuild(ctx, local, key, repo, t, c, branch, log)
				if err != nil {
					errs = append(errs, fmt.Sprintf("%s: %s: %v", t.Name, c.SHA[:12], err))
					continue
				}
				if err := m.Store.Put(ctx, meas); err != nil {
					return nil, st, err
				}
				st.Measured++
			} else {
				st.Reused++
			}
			*side.dst = append(*side.dst, meas.Results...)
		}
	}
	opts := m.compareOptions(targets)
	for _, t := range targets {
		// One build per side: build CPU time can only inform.
		opts.Informational[t.Name] = m.Recipe.Kas.Informational
	}
	rep := m.newReport(req, repo.Name, base, head, compare.Compare(baseResults, headResults, opts), errs)
	st.Wall = time.Since(start)
	st.Busy = m.busy.total()
	return rep, st, nil
}

// kasBuild builds one revision for one target and reads its results.
func (m *Measurer) kasBuild(ctx context.Context, ex executor.Executor, key store.Key, repo *config.Repo, t config.Target, c source.Commit, branch string, log logrus.FieldLogger) (*store.Measurement, error) {
	recipesFS, _, benchFS, _ := Sources(m.Config)
	plan, err := oebuild.Prepare(oebuild.Job{
		Recipes: recipesFS, Benchmarks: benchFS, Workdir: m.Config.Workdir, Recipe: m.Recipe,
		Arch: t.Arch, Component: repo.Component, URL: repo.URL, Rev: c.SHA, Branch: branch,
	})
	if err != nil {
		return nil, err
	}
	log.WithFields(logrus.Fields{"target": t.Name, "rev": c.SHA[:12], "build": plan.BuildDir}).Info("kas build")
	m.Progress.Start("kas "+t.Arch+" "+c.SHA[:12], 1)
	m.busy.begin()
	out, err := oebuild.Run(ctx, plan, ex, m.Sandbox)
	m.busy.end()
	m.Progress.Finish()
	if err != nil {
		return nil, err
	}
	results, rerr := oe.Results(plan.BuildDir)
	if rerr != nil {
		if out.OK() {
			// kas succeeded yet left nothing to read: ours to fix.
			return nil, rerr
		}
		// The build broke before buildhistory was written (parse error,
		// fetch failure of the revision): one failed status says so.
		results = []result.Result{{Benchmark: "build", Metric: result.Status, Unit: "pass/fail", Samples: []float64{result.Fail},
			Note: "kas build " + out.Describe() + ": " + tail(out.Stderr, 10)}}
	}
	for i := range results {
		results[i].Target, results[i].Suite = t.Name, m.Recipe.Suite
	}
	result.Sort(results)
	return &store.Measurement{Key: key, Subject: c.Subject, Toolchain: repo.Component + " at " + c.SHA[:12], Results: results}, nil
}

// oeVersion identifies the recipes tree, the benchmark suite and the
// measuring method: results of different versions are never compared.
func (m *Measurer) oeVersion() (string, error) {
	recipesFS, _, benchFS, _ := Sources(m.Config)
	h := sha256.New()
	h.Write([]byte("method " + methodVersion + "\n"))
	h.Write(m.Recipe.Raw)
	for _, fsys := range []fs.FS{recipesFS, benchFS} {
		err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || (fsys == recipesFS && !strings.HasPrefix(p, "oe/")) {
				return err
			}
			data, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "%s %d\n", p, len(data))
			h.Write(data)
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}
