package measure

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/executor"
	"github.com/tcbot/tcbot/bot/recipe"
	"github.com/tcbot/tcbot/bot/result"
	"github.com/tcbot/tcbot/bot/store"
	"github.com/tcbot/tcbot/bot/suite"
)

// newExecutor makes the executor of a target; files are the binaries an
// executor on another machine (ssh) must upload.
func (m *Measurer) newExecutor(t config.Target, files []string) (executor.Executor, error) {
	if m.NewExecutor != nil {
		return m.NewExecutor(t)
	}
	switch t.Executor {
	case "qemu-user":
		return &executor.QEMUUser{QEMU: t.QEMU, CPU: t.CPU, Plugin: m.Plugin}, nil
	case "qemu-system":
		return m.newQEMUSystem(t, files), nil
	case "ssh":
		if t.SSH == nil {
			return nil, fmt.Errorf("target %s: executor ssh needs an ssh: section", t.Name)
		}
		return &executor.SSH{Host: t.SSH.Host, Port: t.SSH.Port, User: t.SSH.User, KeyFile: t.SSH.KeyFile, KnownHosts: t.SSH.KnownHosts,
			MaxLoad: t.SSH.MaxLoad, RunWrapper: t.RunWrapper, Files: files}, nil
	case "lava":
		return m.newLAVA(t, files)
	}
	return nil, fmt.Errorf("target %s: executor %q is not implemented", t.Name, t.Executor)
}

// onBoard reports whether a target's executor runs on another machine: its
// binaries are uploaded per build, one benchmark runs there at a time, and
// its samples are wall times. A LAVA lab is boards too (see batched).
func onBoard(t config.Target) bool {
	return t.Executor == "qemu-system" || t.Executor == "ssh" || t.Executor == "lava"
}

func (sd *side) fail(target, msg string) {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	if _, ok := sd.failed[target]; !ok {
		sd.failed[target] = msg
	}
}

func (sd *side) hasFailed(target string) bool {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	_, ok := sd.failed[target]
	return ok
}

// releaseExecutors cleans up the executors a Run kept.
func (m *Measurer) releaseExecutors() {
	for _, ex := range m.kept {
		_ = ex.Cleanup()
	}
	m.kept = nil
}

// runAll runs every binary that needs running on every target, base and
// head samples interleaved, at most Config.Jobs at once.
func (m *Measurer) runAll(ctx context.Context, targets []config.Target, sides []*side, st *Stats) error {
	return m.runSamples(ctx, targets, sides, st, nil)
}

// runSamples runs the planned samples (more == nil), or, for adaptive
// resampling, more[target][benchmark] further samples of each side that is
// measured in this run.
func (m *Measurer) runSamples(ctx context.Context, targets []config.Target, sides []*side, st *Stats, more map[string]map[string]int) error {
	base, head := sides[0], sides[1]
	var jobs []func(context.Context)
	nruns := 0 // runs in jobs; a batch is one job of many runs
	var execs []executor.Executor
	defer func() {
		for _, ex := range execs {
			_ = ex.Cleanup()
		}
	}()
	for _, t := range targets {
		if more != nil && more[t.Name] == nil {
			continue
		}
		var needing []*side
		for _, sd := range sides {
			sd.runs = ensure(sd.runs)
			if set := sd.buildFor(t.Name); set != nil && !sd.hasFailed(t.Name) {
				if set.err != nil {
					sd.fail(t.Name, set.err.Error())
					continue
				}
				needing = append(needing, sd)
				if more != nil {
					continue // keep the samples taken so far
				}
				sd.runs[t.Name] = map[string]*benchRuns{}
				for _, b := range m.Suite.Benchmarks {
					sd.runs[t.Name][b.Name] = &benchRuns{}
				}
			}
		}
		if len(needing) == 0 {
			continue
		}
		// LNT's rule: a head binary identical to the base binary is not run.
		if hs := head.buildFor(t.Name); more == nil && hs != nil && hs.err == nil && !head.hasFailed(t.Name) && m.Recipe.Kind != "kernel" {
			for _, b := range m.Suite.Benchmarks {
				hb := hs.bins[b.Name]
				if hb != nil && hb.OK && hb.SHA256 != "" && hb.SHA256 == m.baseBinary(base, t.Name, b.Name) {
					head.runs[t.Name][b.Name].identical = true
				}
			}
		}
		// One executor per side on a board (each uploads its own build),
		// one shared by both sides under emulation and in a LAVA lab
		// (whose job for a round carries both builds).
		exFor := map[*side]executor.Executor{}
		var shared executor.Executor
		share := !onBoard(t) || batched(t)
		for _, sd := range needing {
			if shared != nil {
				exFor[sd] = shared
				continue
			}
			var files []string
			for _, fs := range needing {
				if fs != sd && !share {
					continue
				}
				set := fs.buildFor(t.Name)
				for _, b := range m.Suite.Benchmarks {
					if bin := set.bins[b.Name]; bin != nil && bin.OK {
						files = append(files, filepath.Join(set.dir, "bin", b.Name))
					}
				}
			}
			key := t.Name
			if !share {
				key = fmt.Sprintf("%s|%p", t.Name, sd)
			}
			ex, kept := m.kept[key]
			if !kept { // (kept now means: stored in m.kept by this round)
				var err error
				keep := m.kept != nil && !batched(t)
				ex, err = m.newSideExecutor(sd, t, files)
				if err == nil {
					// A LAVA job is per round anyway; anything else is
					// kept for the next round (see Measurer.kept).
					if keep {
						m.kept[key], kept = ex, true
					} else {
						execs = append(execs, ex)
					}
					err = ex.Prepare(ctx)
				}
				if err != nil {
					if kept {
						delete(m.kept, key)
						_ = ex.Cleanup()
					}
					if !m.kernelFault(sd, t, err) {
						sd.fail(t.Name, err.Error())
					}
					continue
				}
				sd.noteBoot(t.Name, ex)
			}
			exFor[sd] = ex
			if share {
				shared = ex
			}
		}
		bx, _ := shared.(executor.Batcher)
		var batch []batchRun
		var serial *sync.Mutex
		if onBoard(t) {
			serial = &sync.Mutex{}
		}
		for i := 0; i < maxSamples(t, more); i++ {
			for _, b := range m.Suite.Benchmarks {
				if more != nil && i >= more[t.Name][b.Name] {
					continue
				}
				for _, sd := range needing {
					set := sd.buildFor(t.Name)
					bin := set.bins[b.Name]
					runs := sd.runs[t.Name][b.Name]
					ex := exFor[sd]
					if bin == nil || !bin.OK || runs.identical || ex == nil {
						continue
					}
					nruns++
					if bx != nil && ex == shared {
						batch = append(batch, batchRun{sd: sd, dir: set.dir, b: b, runs: runs})
						continue
					}
					jobs = append(jobs, m.runJob(ex, serial, t, sd, set.dir, b, runs, st))
				}
			}
		}
		if len(batch) > 0 {
			jobs = append(jobs, m.runBatch(bx, t, batch, st))
		}
	}
	if len(jobs) == 0 {
		return nil
	}
	m.Progress.Start("run", nruns)
	pool(ctx, m.Config.Jobs, jobs)
	m.Progress.Finish()
	if ctx.Err() != nil {
		return fmt.Errorf("run: %w", ctx.Err())
	}
	return nil
}

func maxSamples(t config.Target, more map[string]map[string]int) int {
	if more == nil {
		return t.Samples
	}
	n := 0
	for _, k := range more[t.Name] {
		n = max(n, k)
	}
	return n
}

func ensure(m map[string]map[string]*benchRuns) map[string]map[string]*benchRuns {
	if m == nil {
		return map[string]map[string]*benchRuns{}
	}
	return m
}

// baseBinary is the hash of the base's binary of a benchmark on a target,
// from this run's build or from the stored measurement.
func (m *Measurer) baseBinary(base *side, target, bench string) string {
	if set := base.buildFor(target); set != nil {
		if set.err == nil {
			if b := set.bins[bench]; b != nil && b.OK {
				return b.SHA256
			}
		}
		return ""
	}
	if meas := base.meas[target]; meas != nil {
		return meas.Binaries[bench].SHA256
	}
	return ""
}

func (m *Measurer) runJob(ex executor.Executor, serial *sync.Mutex, t config.Target, sd *side, dir string, b suite.Benchmark, runs *benchRuns, st *Stats) func(context.Context) {
	return func(ctx context.Context) {
		if serial != nil {
			// A board runs one benchmark at a time: timings on a busy
			// board mean nothing.
			serial.Lock()
			defer serial.Unlock()
		}
		if sd.hasFailed(t.Name) {
			return
		}
		spec := m.runSpec(t, dir, b)
		m.busy.begin()
		o, err := ex.Run(ctx, spec)
		m.busy.end()
		st.addRun()
		m.Progress.Step(sd.name + " " + spec.Name)
		if err != nil {
			if !m.kernelRunFault(sd, runs, err) {
				sd.fail(t.Name, err.Error())
			}
			return
		}
		m.record(t, sd, b, runs, o)
	}
}

// runSpec is the run of benchmark b of the build in dir on target t.
func (m *Measurer) runSpec(t config.Target, dir string, b suite.Benchmark) executor.Spec {
	return executor.Spec{
		Name: t.Name + "/" + b.Name,
		Dir:  filepath.Join(dir, "bin"),
		Argv: recipe.Expand(m.Recipe.Run.Command, map[string][]string{"binary": {b.Name}, "args": b.Args}),
		Env:  m.Recipe.Run.EnvList(),
		// The target's timeout bounds one run of one benchmark.
		Timeout: time.Duration(t.Timeout),
		// Executors that run it on this host (qemu-user) run it here;
		// the directory is mounted read-only.
		Sandbox: m.Sandbox,
	}
}

// record adds the outcome of one run of b to its samples, or notes why
// the run failed.
func (m *Measurer) record(t config.Target, sd *side, b suite.Benchmark, runs *benchRuns, o *executor.Outcome) {
	note := ""
	switch {
	case o.TimedOut:
		note = fmt.Sprintf("timed out after %s", time.Duration(t.Timeout))
	case !o.OK():
		note = "run failed (" + o.Describe() + "): " + tail(o.Stderr, 4)
	case m.Recipe.Run.Check == "checksum":
		got, ok := suite.Checksum(o.Stdout)
		if !ok {
			note = "no checksum line in the output: " + tail(o.Stdout, 2)
		} else if got != b.Checksum {
			note = fmt.Sprintf("wrong checksum %s, want %s (miscompile?)", got, b.Checksum)
		}
	}
	sd.mu.Lock()
	defer sd.mu.Unlock()
	if note != "" {
		if runs.failNote == "" {
			runs.failNote = note
		}
		return
	}
	if o.HasCounts {
		runs.instructions = append(runs.instructions, float64(o.Instructions))
	}
	if onBoard(t) {
		// On a board, wall time of the benchmark (the SSH session's
		// own cost is the same for base and head).
		runs.times = append(runs.times, o.Wall.Seconds())
	} else {
		runs.times = append(runs.times, o.CPU.Seconds())
	}
}

// assemble builds the measurement of one side on one target from its
// build and runs.
func (m *Measurer) assemble(repo string, sd *side, t config.Target, sides []*side) (*store.Measurement, error) {
	tc := sd.toolchain[t.Name]
	set := sd.buildFor(t.Name)
	meas := &store.Measurement{
		Key:       m.key(repo, sd.commit.SHA, tc, t),
		Subject:   sd.commit.Subject,
		Toolchain: tc.Desc,
		Binaries:  map[string]store.Binary{},
	}
	var baseMeas *store.Measurement
	if sd != sides[0] {
		baseMeas = sides[0].meas[t.Name]
	}
	add := func(bench, metric string, note string, identical bool, samples ...float64) {
		meta, _ := result.LookupMetric(metric)
		meas.Results = append(meas.Results, result.Result{
			Target: t.Name, Suite: m.Suite.Name, Benchmark: bench, Metric: metric, Unit: meta.Unit,
			Samples: samples, Note: note, Identical: identical,
		})
	}
	for _, b := range m.Suite.Benchmarks {
		bin := set.bins[b.Name]
		if bin == nil {
			return nil, fmt.Errorf("%s was not built", b.Name)
		}
		if m.Recipe.Build.Has(result.CompileTime) {
			add(b.Name, result.CompileTime, "", false, bin.CompileCPU)
		}
		if !bin.OK {
			add(b.Name, result.Status, bin.Note, false, result.Fail)
			continue
		}
		meas.Binaries[b.Name] = store.Binary{SHA256: bin.SHA256, Functions: bin.Functions}
		if m.Recipe.Build.Has(result.CodeSize) {
			add(b.Name, result.CodeSize, "", false, float64(bin.Text))
		}
		runs := sd.runs[t.Name][b.Name]
		if runs.identical {
			if baseMeas == nil {
				return nil, fmt.Errorf("head binary of %s is identical to the base's, but the base could not be measured", b.Name)
			}
			for _, r := range baseMeas.Results {
				if r.Benchmark == b.Name && r.Metric != result.CodeSize && r.Metric != result.CompileTime && m.Recipe.Run.Has(r.Metric) {
					r.Identical = true
					r.Note = "identical binary: run metrics of " + baseMeas.Revision[:12]
					meas.Results = append(meas.Results, r)
				}
			}
			continue
		}
		if runs.failNote != "" {
			add(b.Name, result.Status, runs.failNote, false, result.Fail)
			continue
		}
		if m.Recipe.Run.Has(result.Status) {
			add(b.Name, result.Status, "", false, result.Pass)
		}
		if m.Recipe.Run.Has(result.Instructions) && len(runs.instructions) > 0 {
			add(b.Name, result.Instructions, "", false, runs.instructions...)
		}
		if m.Recipe.Run.Has(result.Time) && len(runs.times) > 0 {
			add(b.Name, result.Time, "", false, runs.times...)
		}
	}
	meas.Results = append(meas.Results, toolchainResults(m.Suite.Name, t, tc)...)
	meas.Results = append(meas.Results, bootResults(m.Suite.Name, sd, t, baseMeas)...)
	result.Sort(meas.Results)
	return meas, nil
}
