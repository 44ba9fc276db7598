package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/demo"
	"github.com/tcbot/tcbot/bot/measure"
	"github.com/tcbot/tcbot/bot/progress"
	"github.com/tcbot/tcbot/bot/recipe"
	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/bot/store"
	"github.com/tcbot/tcbot/recipes"
)

// exitError carries an exit code chosen by a command (2: regression).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// run is the whole program: it parses args, runs a command and returns the
// exit code. Reports go to stdout, everything else to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	log := logrus.New()
	log.SetOutput(stderr)
	log.SetFormatter(&logrus.TextFormatter{DisableTimestamp: false, FullTimestamp: true})
	var level string
	root := &cobra.Command{
		Use:           "tcbot",
		Short:         "tcbot guards the performance of the Arm toolchain and kernel",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			l, err := logrus.ParseLevel(level)
			if err != nil {
				return fmt.Errorf("--log-level %q: want debug, info, warning or error", level)
			}
			log.SetLevel(l)
			return nil
		},
	}
	root.SetArgs(args)
	root.SetOut(stderr)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&level, "log-level", "warning", "log level: debug, info, warning, error")
	root.AddCommand(runCmd(log, stdout, stderr), compareCmd(log, stdout, stderr), demoCmd(log, stdout, stderr), configCmd(stdout), serveCmd(log, stderr), workerCmd(log, stderr), migrateCmd(stdout), webhookCmd(stdout), oeCompareCmd(stdout), targetCmd(log, stdout), bisectCmd(log, stdout, stderr), exportCmd(stdout))
	err := root.ExecuteContext(ctx)
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	}
	fmt.Fprintf(stderr, "tcbot: %v\n", err)
	return 1
}

func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return nil, fmt.Errorf("--config is required: the path of your tcbot.yaml (see README, Configuration)")
	}
	return config.Load(path)
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func checkFormat(f string) error {
	switch f {
	case "text", "markdown", "json":
		return nil
	}
	return fmt.Errorf("--format %q: want text, markdown or json", f)
}

// emit prints a report and turns its verdict into the exit code.
func emit(stdout io.Writer, rep *report.Report, format string) error {
	if err := report.Render(stdout, *rep, format); err != nil {
		return err
	}
	if code := rep.Verdict.ExitCode(); code != 0 {
		return exitError{code}
	}
	return nil
}

// reportFlags are the flags every report-printing command shares.
type reportFlags struct {
	cfgPath, repo, targets, format string
	// standalone: `tcbot run --repo-url` without a config
	// (config.Standalone).
	standalone config.RunRepo
	// measures: the command runs measurements, so it reads the config's
	// secrets (LAVA tokens) first.
	measures bool
}

func (r *reportFlags) add(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&r.cfgPath, "config", "", "configuration file")
	f.StringVar(&r.repo, "repo", "", "repository name from the config")
	f.StringVar(&r.targets, "targets", "", "comma-separated targets (default: all)")
	f.StringVar(&r.format, "format", "text", "report format: text, markdown or json")
}

// measured loads the config, wires a Measurer, lets produce make the
// report and prints it, turning its verdict into the exit code.
func (r *reportFlags) measured(ctx context.Context, log *logrus.Logger, prog progress.Reporter, stdout io.Writer, required [][2]string,
	produce func(m *measure.Measurer) (*report.Report, error)) error {
	if err := checkFormat(r.format); err != nil {
		return err
	}
	if r.standalone.URL != "" && r.repo == "" {
		r.repo = "(from --repo-url)"
	}
	for _, fv := range required {
		if fv[1] == "" && !(fv[0] == "--repo" && r.standalone.URL != "") {
			return fmt.Errorf("%s is required", fv[0])
		}
	}
	cfg, err := r.config()
	if err != nil {
		return err
	}
	if r.measures {
		if _, err := cfg.LoadSecrets(); err != nil {
			return err
		}
	}
	m, err := measure.New(ctx, cfg, log, prog)
	if err != nil {
		return err
	}
	defer m.Store.Close()
	rep, err := produce(m)
	if err != nil {
		return err
	}
	return emit(stdout, rep, r.format)
}

// config loads --config, or makes the standalone config of --repo-url
// (in the user's cache directory) and points --repo at its repository.
func (r *reportFlags) config() (*config.Config, error) {
	rr := r.standalone
	if rr.URL == "" {
		if rr != (config.RunRepo{}) {
			return nil, fmt.Errorf("--recipe, --toolchain, --build-recipe, --component, --kernel-url and --kernel-rev go with --repo-url; with --config the repository's entry says them")
		}
		return loadConfig(r.cfgPath)
	}
	if r.cfgPath != "" {
		return nil, fmt.Errorf("--repo-url and --config exclude each other: --repo-url measures a repository without a config, --config --repo names one of the config's")
	}
	if r.repo != "(from --repo-url)" {
		return nil, fmt.Errorf("--repo-url and --repo exclude each other: give the repository by URL or by its config name")
	}
	if !strings.Contains(rr.URL, "://") && !strings.Contains(rr.URL, "@") {
		abs, err := filepath.Abs(rr.URL)
		if err != nil {
			return nil, err
		}
		rr.URL = abs
	}
	dir := os.Getenv("TCBOT_WORKDIR")
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("--repo-url: no cache directory for the workdir (%v): set TCBOT_WORKDIR", err)
		}
		dir = filepath.Join(cache, "tcbot")
	}
	if rec, err := recipe.Load(recipes.FS, "recipes", rr.Recipe); err == nil {
		rr.Boot = measure.RecipeBootsKernel(rec)
	}
	cfg, err := config.Standalone(dir, rr)
	if err != nil {
		return nil, err
	}
	if rr.Recipe != "" {
		rfs, where, _, _ := measure.Sources(cfg)
		names, _ := recipe.List(rfs)
		if !slices.Contains(names, rr.Recipe) {
			return nil, fmt.Errorf("--recipe %q: no such recipe in %s (want one of %s)", rr.Recipe, where, strings.Join(names, ", "))
		}
	}
	r.repo = cfg.Repos[0].Name
	return cfg, nil
}

func runCmd(log *logrus.Logger, stdout, stderr io.Writer) *cobra.Command {
	rf := reportFlags{measures: true}
	var rev, base string
	c := &cobra.Command{
		Use:   "run (--config F --repo R | --repo-url URL) --rev REV [--base REV]",
		Short: "measure one change end to end and print its report (exit 0: no regression, 2: regression, 1: error)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return rf.measured(cmd.Context(), log, progress.New(stderr), stdout, [][2]string{{"--repo", rf.repo}, {"--rev", rev}},
				func(m *measure.Measurer) (*report.Report, error) {
					b, err := pinned(m, rf.repo, base)
					if err != nil {
						return nil, err
					}
					rep, _, err := m.Run(cmd.Context(), measure.Request{Repo: rf.repo, Rev: rev, Base: b, Targets: splitList(rf.targets)})
					if err != nil {
						return nil, err
					}
					// Kept as a change, so tcbot serve's dashboard shows it.
					js, err := json.Marshal(rep)
					if err != nil {
						return nil, err
					}
					_, err = store.RecordChange(cmd.Context(), m.Store.Q(), &store.Change{Repo: rf.repo, Head: rep.Head, Base: rep.Base, Origin: "cli", Targets: splitList(rf.targets)}, string(rep.Verdict), string(js))
					return rep, err
				})
		},
	}
	rf.add(c)
	c.Flags().StringVar(&rf.standalone.URL, "repo-url", "", "measure this repository (URL or path) without a config: targets "+strings.Join(config.StandaloneTargets, ", ")+", workdir $TCBOT_WORKDIR or $XDG_CACHE_HOME/tcbot (~/.cache/tcbot)")
	c.Flags().StringVar(&rf.standalone.Recipe, "recipe", "", "with --repo-url: the recipe (default bench)")
	c.Flags().StringVar(&rf.standalone.Toolchain, "toolchain", "", "with --repo-url: the toolchain kind: manifest (default), host (the standard cross compilers) or build")
	c.Flags().StringVar(&rf.standalone.Build, "build-recipe", "", "with --repo-url --toolchain build: the toolchain recipe that builds the repository (gcc, binutils, glibc, llvm)")
	c.Flags().StringVar(&rf.standalone.Component, "component", "", "with --repo-url --recipe oe-lamp: what the repository is to the image (gcc, binutils, glibc or linux)")
	c.Flags().StringVar(&rf.standalone.KernelURL, "kernel-url", "", "with --repo-url --recipe distro-lamp of a glibc repository: the kernel repository the image boots")
	c.Flags().StringVar(&rf.standalone.KernelRev, "kernel-rev", "", "with --kernel-url: the kernel's revision, the same at base and head")
	c.Flags().StringVar(&rev, "rev", "", "revision to measure (branch, tag or commit)")
	c.Flags().StringVar(&base, "base", "", "baseline revision, or @NAME for a baseline the repo pins (default: the first parent of --rev)")
	return c
}

func compareCmd(log *logrus.Logger, stdout, stderr io.Writer) *cobra.Command {
	var rf reportFlags
	var base, head string
	c := &cobra.Command{
		Use:   "compare --config F --repo R --base REV --head REV",
		Short: "compare stored results of two revisions (nothing is built or run)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return rf.measured(cmd.Context(), log, progress.Discard{}, stdout, [][2]string{{"--repo", rf.repo}, {"--base", base}, {"--head", head}},
				func(m *measure.Measurer) (*report.Report, error) {
					b, err := pinned(m, rf.repo, base)
					if err != nil {
						return nil, err
					}
					return m.CompareStored(cmd.Context(), rf.repo, b, head, splitList(rf.targets))
				})
		},
	}
	rf.add(c)
	c.Flags().StringVar(&base, "base", "", "baseline revision, or @NAME for a baseline the repo pins")
	c.Flags().StringVar(&head, "head", "", "revision to compare with the baseline")
	return c
}

func demoCmd(log *logrus.Logger, stdout, stderr io.Writer) *cobra.Command {
	var dir, format string
	var gcc bool
	c := &cobra.Command{
		Use:   "demo",
		Short: "measure a temporary toolchain repository with a no-op commit and an injected regression",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			if dir == "" && gcc {
				// GCC's build trees are worth keeping: the next run is warm.
				d, err := os.UserCacheDir()
				if err != nil {
					return err
				}
				dir = filepath.Join(d, "tcbot-demo-gcc")
			}
			if dir == "" {
				d, err := os.MkdirTemp("", "tcbot-demo-")
				if err != nil {
					return err
				}
				dir = d
			}
			run := demo.Run
			if gcc {
				run = demo.RunGCC
			}
			ok, err := run(cmd.Context(), demo.Options{Dir: dir, Format: format, Stdout: stdout, Stderr: stderr, Log: log, Progress: progress.New(stderr)})
			if err != nil {
				return err
			}
			// The measurements stay, for the dashboard.
			fmt.Fprintf(stderr, "demo: the dashboard of these measurements: run\n\n    tcbot serve --dir %s\n\nand open http://%s/ (remove %s when done)\n", dir, demo.Listen, dir)
			if !ok {
				return exitError{1}
			}
			return nil
		},
	}
	c.Flags().StringVar(&dir, "dir", "", "where the demo repository, config and database go (default: a new temporary directory; with --gcc: ~/.cache/tcbot-demo-gcc); kept for tcbot serve --dir")
	c.Flags().BoolVar(&gcc, "gcc", false, "the GCC demo: a GCC repository from Debian's gcc-12-source, its cc1 built from each revision (about 40 minutes cold on 2 cores, a minute warm)")
	c.Flags().StringVar(&format, "format", "text", "report format: text, markdown or json")
	return c
}

func configCmd(stdout io.Writer) *cobra.Command {
	c := &cobra.Command{Use: "config", Short: "work with configuration files"}
	var cfgPath string
	check := &cobra.Command{
		Use:   "check --config F",
		Short: "validate a config and the recipes and benchmark suite it uses",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			cfg, err := loadConfig(cfgPath)
			if err != nil {
				return err
			}
			recs, s, err := measure.LoadRecipes(cfg)
			if err != nil {
				return err
			}
			notes, err := measure.CheckTrees(cfg, recs)
			if err != nil {
				return err
			}
			for _, n := range notes {
				fmt.Fprintln(stdout, n)
			}
			fmt.Fprintf(stdout, "%s: ok: %d repos, %d targets, suite %s (%d benchmarks, version %s)\n", cfg.Path, len(cfg.Repos), len(cfg.Targets), s.Name, len(s.Benchmarks), s.Version)
			fmt.Fprintf(stdout, "  %s\n", cfg.SandboxSummary())
			if w := cfg.SandboxWarning(); w != "" {
				fmt.Fprintln(stdout, w)
			}
			for _, r := range cfg.Repos {
				fmt.Fprintf(stdout, "  repo %s: %s, recipe %s (%s), toolchain %s\n", r.Name, r.URL, r.Recipe, recs[r.Name].Source, r.Toolchain)
			}
			for _, t := range cfg.Targets {
				fmt.Fprintf(stdout, "  target %s: %s on %s -cpu %s, %d sample(s)\n", t.Name, t.Arch, t.Executor, t.CPU, t.Samples)
			}
			return nil
		},
	}
	check.Flags().StringVar(&cfgPath, "config", "", "configuration file")
	c.AddCommand(check)
	return c
}

func targetCmd(log *logrus.Logger, stdout io.Writer) *cobra.Command {
	c := &cobra.Command{Use: "target", Short: "work with targets"}
	var cfgPath, target, bench, repo, rev string
	check := &cobra.Command{
		Use:   "check --config F --target T [--repo R [--rev REV]]",
		Short: "is this target usable? build one benchmark, run it there (or, with --repo of a distro-lamp repository, boot its whole system), print what was measured or what is wrong",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if target == "" {
				return fmt.Errorf("--target is required")
			}
			cfg, err := loadConfig(cfgPath)
			if err != nil {
				return err
			}
			if _, err := cfg.LoadSecrets(); err != nil {
				return err
			}
			m, err := measure.New(cmd.Context(), cfg, log, progress.Discard{})
			if err != nil {
				return err
			}
			defer m.Store.Close()
			var msg string
			if repo != "" {
				msg, err = m.CheckSystem(cmd.Context(), target, repo, rev)
			} else {
				msg, err = m.CheckTarget(cmd.Context(), target, bench)
			}
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, msg)
			return nil
		},
	}
	check.Flags().StringVar(&cfgPath, "config", "", "configuration file")
	check.Flags().StringVar(&target, "target", "", "target name from the config")
	check.Flags().StringVar(&bench, "benchmark", "crc32", "benchmark of the suite to run there")
	check.Flags().StringVar(&repo, "repo", "", "boot the system this repository's recipe measures (distro-lamp) with its kernel")
	check.Flags().StringVar(&rev, "rev", "", "with --repo: the revision whose kernel boots (default: the repository's first branch)")
	c.AddCommand(check)
	return c
}

// pinned resolves --base @NAME to the revision the repo's baselines pin.
func pinned(m *measure.Measurer, repo, base string) (string, error) {
	r, err := m.Config.Repo(repo)
	if err != nil {
		return "", err
	}
	b, err := r.ResolveBase(base)
	if err != nil {
		return "", fmt.Errorf("--base: %w", err)
	}
	return b, nil
}
