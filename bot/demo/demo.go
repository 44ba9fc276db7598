// Package demo is `tcbot demo`: it creates a small toolchain repository in
// a directory (three commits: a baseline, a commit that changes nothing
// measurable, and one that injects a regression), writes a config for it,
// measures both changes for ARMv7 and ARMv8 under QEMU through the same
// code path as `tcbot run`, and prints the two reports.
package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/sirupsen/logrus"

	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/measure"
	"github.com/tcbot/tcbot/bot/progress"
	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/bot/store"
)

// Options configure the demo.
type Options struct {
	Dir      string // where the repository, config and database go
	Format   string // report format
	Stdout   io.Writer
	Stderr   io.Writer
	Log      logrus.FieldLogger
	Progress progress.Reporter
}

// Commit is one commit of the demo repository.
type Commit struct {
	Subject string
	Files   map[string]string
}

const baseManifest = `# Which compiler builds the benchmarks, per arch (read by tcbot).
armv7: {cc: arm-linux-gnueabihf-gcc, cflags: "-O2"}
armv8: {cc: aarch64-linux-gnu-gcc, cflags: "-O2"}
`

// RegressionFlags is what the injected regression adds to the flags:
// the whole tree loop optimiser switched off (induction variables,
// vectorizer, unrolling), as a hasty workaround for a miscompile would.
// Measured here: about +5% instructions (geomean) on both arches, with a
// few benchmarks that get faster, as real changes do.
const RegressionFlags = "-fno-tree-loop-optimize"

// Commits are the demo repository's history, oldest first.
var Commits = []Commit{
	{
		Subject: "toolchain: GCC 12 cross compilers at -O2",
		Files: map[string]string{
			"tcbot-toolchain.yaml": baseManifest,
			"README":               "Demo toolchain repository for tcbot.\n",
		},
	},
	{
		Subject: "docs: describe the release process",
		Files: map[string]string{
			"README": "Demo toolchain repository for tcbot.\n\nReleases are cut from main every six weeks.\n",
		},
	},
	{
		Subject: "opts: disable the tree loop optimiser to work around PR 12345",
		Files: map[string]string{
			"tcbot-toolchain.yaml": `# Which compiler builds the benchmarks, per arch (read by tcbot).
armv7: {cc: arm-linux-gnueabihf-gcc, cflags: "-O2 ` + RegressionFlags + `"}
armv8: {cc: aarch64-linux-gnu-gcc, cflags: "-O2 ` + RegressionFlags + `"}
`,
		},
	},
}

// MakeRepo creates the demo repository at dir with fixed authors and dates,
// so its commit SHAs are the same on every machine. It returns the SHAs.
func MakeRepo(dir string, commits []Commit) ([]string, error) {
	r, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{InitOptions: git.InitOptions{DefaultBranch: "refs/heads/main"}})
	if err != nil {
		return nil, fmt.Errorf("demo repository: %w", err)
	}
	wt, err := r.Worktree()
	if err != nil {
		return nil, err
	}
	when := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	var shas []string
	for i, c := range commits {
		for name, content := range c.Files {
			// Scripts and programs are committed executable.
			mode := os.FileMode(0o644)
			if strings.HasPrefix(content, "#!") || strings.HasPrefix(content, "\x7fELF") {
				mode = 0o755
			}
			if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
				return nil, err
			}
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), mode); err != nil {
				return nil, err
			}
			if _, err := wt.Add(name); err != nil {
				return nil, err
			}
		}
		sig := &object.Signature{Name: "Demo Developer", Email: "dev@example.org", When: when.Add(time.Duration(i) * time.Hour)}
		h, err := wt.Commit(c.Subject, &git.CommitOptions{Author: sig, Committer: sig})
		if err != nil {
			return nil, fmt.Errorf("demo repository: commit %q: %w", c.Subject, err)
		}
		shas = append(shas, h.String())
	}
	return shas, nil
}

// Config is the demo's config file.
func Config(dir string) string {
	return `# tcbot demo configuration (written by tcbot demo)
database: sqlite://` + filepath.Join(dir, "work", "tcbot.db") + `
workdir: ` + filepath.Join(dir, "work") + `
repos:
  - name: toolchain
    url: ` + filepath.Join(dir, "toolchain") + `
    branches: [main]
    recipe: bench
    toolchain: manifest
targets:
  - {name: armv7-qemu, arch: armv7, executor: qemu-user}
  - {name: armv8-qemu, arch: armv8, executor: qemu-user}
listen: ` + Listen + `
`
}

// Listen is where `tcbot serve --dir` serves a demo's dashboard.
const Listen = "127.0.0.1:8080"

// Run runs the demo; ok is true when the no-op commit came out unchanged
// and the injected regression came out as a regression.
func Run(ctx context.Context, o Options) (ok bool, err error) {
	repoDir := filepath.Join(o.Dir, "toolchain")
	shas, err := MakeRepo(repoDir, Commits)
	if err != nil {
		return false, err
	}
	return measureCases(ctx, o, "toolchain", repoDir, Config(o.Dir), []demoCase{
		{what: "the no-op commit", want: "unchanged", head: shas[1], subject: subjectOf(shas[1], shas)},
		{what: "the injected regression", want: "regression", head: shas[2], subject: subjectOf(shas[2], shas)},
	})
}

// demoCase is one change a demo measures and the verdict it must get.
type demoCase struct {
	what, want    string
	head, base    string // base "": the head's parent
	subject, wait string // subject and what the wait is for, shown while measuring
}

// measureCases writes the config, measures each case of repo through the
// same code path as tcbot run, prints the reports and a summary; ok is
// true when every case got its verdict.
func measureCases(ctx context.Context, o Options, repo, repoDir, cfgText string, cases []demoCase) (ok bool, err error) {
	cfgPath := filepath.Join(o.Dir, "tcbot.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o644); err != nil {
		return false, err
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return false, err
	}
	m, err := measure.New(ctx, cfg, o.Log, o.Progress)
	if err != nil {
		return false, err
	}
	defer m.Store.Close()
	fmt.Fprintf(o.Stderr, "demo: repository %s, config %s\n", repoDir, cfgPath)
	ok = true
	var lines []string
	for _, c := range cases {
		about := c.subject
		if c.wait != "" {
			about = c.wait
		}
		fmt.Fprintf(o.Stderr, "demo: measuring %s %s (%s)\n", c.what, c.head[:12], about)
		rep, st, err := m.Run(ctx, measure.Request{Repo: repo, Rev: c.head, Base: c.base})
		if err != nil {
			return false, err
		}
		if err := report.Render(o.Stdout, *rep, o.Format); err != nil {
			return false, err
		}
		// Recorded as a change of branch main, for the dashboard.
		js, err := json.Marshal(rep)
		if err != nil {
			return false, err
		}
		if _, err := store.RecordChange(ctx, m.Store.Q(), &store.Change{Repo: repo, Head: rep.Head, Base: rep.Base, Origin: "demo", Branch: "main"}, string(rep.Verdict), string(js)); err != nil {
			return false, err
		}
		fmt.Fprintln(o.Stdout)
		mark := "as expected"
		if string(rep.Verdict) != c.want {
			mark = "UNEXPECTED, wanted " + c.want
			ok = false
		}
		lines = append(lines, fmt.Sprintf("demo: %s %s: %s (%s) in %.1fs", c.what, c.head[:12], rep.Verdict, mark, st.Wall.Seconds()))
	}
	for _, l := range lines {
		fmt.Fprintln(o.Stderr, l)
	}
	return ok, nil
}

func subjectOf(sha string, shas []string) string {
	for i, s := range shas {
		if s == sha {
			return Commits[i].Subject
		}
	}
	return ""
}
