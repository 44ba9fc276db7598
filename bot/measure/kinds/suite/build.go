package suite

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tcbot/tcbot/bot/codesize"
	"github.com/tcbot/tcbot/bot/executor"
	"github.com/tcbot/tcbot/bot/measure/kinds"
	"github.com/tcbot/tcbot/bot/recipe"
	"github.com/tcbot/tcbot/bot/result"
	"github.com/tcbot/tcbot/bot/sandbox"
	"github.com/tcbot/tcbot/bot/source"
	"github.com/tcbot/tcbot/bot/toolchain"
)

// buildSet is the suite built for one arch with one toolchain. Builds are
// cached under workdir/build by suite version and toolchain identity, so
// two revisions with the same toolchain share binaries.
type buildSet struct {
	arch   string
	tc     *toolchain.Toolchain
	commit source.Commit // a revision using this toolchain (for in-tree compilers)
	dir    string
	bins   map[string]*binary
	err    error // infrastructure failure: nothing of this set is usable
	mu     sync.Mutex
}

// binary is one built benchmark.
type binary struct {
	Benchmark  string                `json:"benchmark"`
	OK         bool                  `json:"ok"`
	Note       string                `json:"note,omitempty"`
	SHA256     string                `json:"sha256,omitempty"`
	CompileCPU float64               `json:"compile_cpu"`
	Text       uint64                `json:"text"`
	Functions  []result.FunctionSize `json:"functions,omitempty"`
}

const buildManifest = "build.json"

func (j *job) build(ctx context.Context, mirror *source.Mirror, sets []*buildSet) error {
	local := executor.NewLocal()
	var jobs []func(context.Context)
	for _, b := range sets {
		b.dir = filepath.Join(j.env.Config.Workdir, "build", j.env.SuiteVersion, b.arch+"-"+b.tc.ID)
		if bins, ok := loadBuild(b.dir); ok {
			b.bins = bins
			continue
		}
		tmp := b.dir + fmt.Sprintf(".tmp-%d", os.Getpid())
		os.RemoveAll(tmp)
		if err := os.MkdirAll(filepath.Join(tmp, "bin"), 0o755); err != nil {
			return fmt.Errorf("build directory: %w", err)
		}
		for name, data := range j.env.Suite.Files {
			if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
				return fmt.Errorf("build directory: %w", err)
			}
		}
		cc := b.tc.CC
		mounts := []sandbox.Mount{sandbox.RW(tmp)}
		for _, d := range b.tc.Mounts {
			mounts = append(mounts, sandbox.RO(d))
		}
		if b.tc.InTree {
			checkout := filepath.Join(j.env.Config.Workdir, "checkouts", mirror.Name, b.commit.SHA)
			if _, err := os.Stat(checkout); err != nil {
				if err := mirror.Export(b.commit.SHA, checkout+".tmp"); err != nil {
					b.err = err
					os.RemoveAll(tmp)
					os.RemoveAll(checkout + ".tmp")
					continue
				}
				if err := os.Rename(checkout+".tmp", checkout); err != nil && !os.IsExist(err) {
					os.RemoveAll(checkout + ".tmp")
				}
			}
			cc = filepath.Join(checkout, filepath.FromSlash(b.tc.CC))
			mounts = append(mounts, sandbox.RO(checkout))
		}
		b.bins = map[string]*binary{}
		for _, bench := range j.env.Suite.Benchmarks {
			bench := bench
			b := b
			argv := recipe.Expand(j.env.Recipe.Build.Command, map[string][]string{
				"cc": {cc}, "cflags": append(append([]string{}, b.tc.CFlags...), b.tc.PathFlags...), "ldflags": append(append([]string{}, b.tc.LDFlags...), bench.LDFlags...),
				"output": {"bin/" + bench.Name}, "sources": bench.Sources,
			})
			jobs = append(jobs, func(ctx context.Context) {
				j.env.Busy.Begin()
				o, err := local.Run(ctx, executor.Spec{
					Name: b.arch + "/" + bench.Name, Dir: tmp, Argv: argv,
					Env: j.env.Recipe.Build.EnvList(), Timeout: j.env.Recipe.Build.TimeoutOr(5 * time.Minute),
					Sandbox: j.env.Sandbox, Mounts: mounts,
				})
				j.env.Busy.End()
				j.env.Stats.AddBuild()
				j.env.Progress.Step("built " + b.arch + "/" + bench.Name)
				bin := &binary{Benchmark: bench.Name}
				switch {
				case err != nil:
					b.mu.Lock()
					if b.err == nil {
						b.err = err
					}
					b.mu.Unlock()
					return
				case !o.OK():
					bin.Note = "build failed (" + o.Describe() + "): " + kinds.Tail(o.Stderr, 6)
				default:
					path := filepath.Join(tmp, "bin", bench.Name)
					if fi, err := os.Lstat(path); err != nil || !fi.Mode().IsRegular() {
						// The compiler may be hostile: read only a plain
						// file it made, never what a link points to.
						bin.Note = "build produced no regular file bin/" + bench.Name
						break
					}
					size, err := codesize.Measure(path)
					if err != nil {
						bin.Note = "build produced no usable binary: " + err.Error()
						break
					}
					sum, err := kinds.FileSHA256(path)
					if err != nil {
						bin.Note = err.Error()
						break
					}
					bin.OK, bin.SHA256, bin.Text, bin.Functions = true, sum, size.Text, size.Functions
				}
				bin.CompileCPU = o.CPU.Seconds()
				b.mu.Lock()
				b.bins[bench.Name] = bin
				b.mu.Unlock()
			})
		}
		b.dir = tmp // finished below
	}
	if len(jobs) == 0 {
		return nil
	}
	j.env.Progress.Start("build", len(jobs))
	kinds.Pool(ctx, j.env.Config.Jobs, jobs)
	j.env.Progress.Finish()
	if ctx.Err() != nil {
		return fmt.Errorf("build: %w", ctx.Err())
	}
	for _, b := range sets {
		if !strings.Contains(b.dir, ".tmp-") {
			continue
		}
		tmp := b.dir
		b.dir = strings.SplitN(tmp, ".tmp-", 2)[0]
		if b.err != nil {
			os.RemoveAll(tmp)
			continue
		}
		var list []*binary
		for _, bench := range j.env.Suite.Benchmarks {
			list = append(list, b.bins[bench.Name])
		}
		if err := kinds.WriteJSON(filepath.Join(tmp, buildManifest), list); err != nil {
			return fmt.Errorf("build directory: %w", err)
		}
		if err := os.Rename(tmp, b.dir); err != nil {
			// Another tcbot built the same set meanwhile: use theirs.
			if bins, ok := loadBuild(b.dir); ok {
				b.bins = bins
				os.RemoveAll(tmp)
				continue
			}
			return fmt.Errorf("build directory: %w", err)
		}
		j.env.Log.WithFields(logrus.Fields{"arch": b.arch, "toolchain": b.tc.Desc}).Debug("suite built")
	}
	return nil
}

func loadBuild(dir string) (map[string]*binary, bool) {
	data, err := os.ReadFile(filepath.Join(dir, buildManifest))
	if err != nil {
		return nil, false
	}
	var list []*binary
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, false
	}
	bins := map[string]*binary{}
	for _, b := range list {
		if b == nil {
			return nil, false
		}
		if b.OK {
			sum, err := kinds.FileSHA256(filepath.Join(dir, "bin", b.Benchmark))
			if err != nil || sum != b.SHA256 {
				return nil, false // damaged cache: build again
			}
		}
		bins[b.Benchmark] = b
	}
	return bins, true
}
