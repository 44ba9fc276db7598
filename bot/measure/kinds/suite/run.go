package suite

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/executor"
	"github.com/tcbot/tcbot/bot/measure/kinds"
	"github.com/tcbot/tcbot/bot/recipe"
	"github.com/tcbot/tcbot/bot/result"
	"github.com/tcbot/tcbot/bot/store"
	bench "github.com/tcbot/tcbot/bot/suite"
	"github.com/tcbot/tcbot/bot/target"
)

// releaseExecutors cleans up the executors a Run kept.
func (j *job) releaseExecutors() {
	for _, ex := range j.kept {
		_ = ex.Cleanup()
	}
	j.kept = nil
}

// runAll runs every binary that needs running on every target, base and
// head samples interleaved, at most Config.Jobs at once.
func (j *job) runAll(ctx context.Context, targets []config.Target, sides []*Side) error {
	return j.runSamples(ctx, targets, sides, nil)
}

// runSamples runs the planned samples (more == nil), or, for adaptive
// resampling, more[target][benchmark] further samples of each side that is
// measured in this run.
func (j *job) runSamples(ctx context.Context, targets []config.Target, sides []*Side, more map[string]map[string]int) error {
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
		var needing []*Side
		for _, sd := range sides {
			sd.runs = ensure(sd.runs)
			if set := sd.buildFor(t.Name); set != nil && !sd.HasFailed(t.Name) {
				if set.err != nil {
					sd.Fail(t.Name, set.err.Error())
					continue
				}
				needing = append(needing, sd)
				if more != nil {
					continue // keep the samples taken so far
				}
				sd.runs[t.Name] = map[string]*Runs{}
				for _, b := range j.env.Suite.Benchmarks {
					sd.runs[t.Name][b.Name] = &Runs{}
				}
			}
		}
		if len(needing) == 0 {
			continue
		}
		// LNT's rule: a head binary identical to the base binary is not run.
		if hs := head.buildFor(t.Name); more == nil && hs != nil && hs.err == nil && !head.HasFailed(t.Name) && !j.hooks.RunIdentical {
			for _, b := range j.env.Suite.Benchmarks {
				hb := hs.bins[b.Name]
				if hb != nil && hb.OK && hb.SHA256 != "" && hb.SHA256 == j.baseBinary(base, t.Name, b.Name) {
					head.runs[t.Name][b.Name].identical = true
				}
			}
		}
		// One executor per side on a board (each uploads its own build),
		// one shared by both sides under emulation and in a LAVA lab
		// (whose job for a round carries both builds).
		exFor := map[*Side]executor.Executor{}
		var shared executor.Executor
		share := !target.TraitsOf(t).OnBoard || target.TraitsOf(t).Batched
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
				for _, b := range j.env.Suite.Benchmarks {
					if bin := set.bins[b.Name]; bin != nil && bin.OK {
						files = append(files, filepath.Join(set.dir, "bin", b.Name))
					}
				}
			}
			key := t.Name
			if !share {
				key = fmt.Sprintf("%s|%p", t.Name, sd)
			}
			ex, kept := j.kept[key]
			if !kept { // (kept now means: stored in j.kept by this round)
				var err error
				keep := j.kept != nil && !target.TraitsOf(t).Batched
				ex, err = j.newExecutor(sd, t, files)
				if err == nil {
					// A LAVA job is per round anyway; anything else is
					// kept for the next round (see Measurer.kept).
					if keep {
						j.kept[key], kept = ex, true
					} else {
						execs = append(execs, ex)
					}
					err = ex.Prepare(ctx)
				}
				if err != nil {
					if kept {
						delete(j.kept, key)
						_ = ex.Cleanup()
					}
					if j.hooks.PrepareFault == nil || !j.hooks.PrepareFault(sd, t, err) {
						sd.Fail(t.Name, err.Error())
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
		if target.TraitsOf(t).OnBoard {
			serial = &sync.Mutex{}
		}
		for i := 0; i < maxSamples(t, more); i++ {
			for _, b := range j.env.Suite.Benchmarks {
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
					jobs = append(jobs, j.runJob(ex, serial, t, sd, set.dir, b, runs))
				}
			}
		}
		if len(batch) > 0 {
			jobs = append(jobs, j.runBatch(bx, t, batch))
		}
	}
	if len(jobs) == 0 {
		return nil
	}
	j.env.Progress.Start("run", nruns)
	kinds.Pool(ctx, j.env.Config.Jobs, jobs)
	j.env.Progress.Finish()
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

func ensure(m map[string]map[string]*Runs) map[string]map[string]*Runs {
	if m == nil {
		return map[string]map[string]*Runs{}
	}
	return m
}

// baseBinary is the hash of the base's binary of a benchmark on a target,
// from this run's build or from the stored measurement.
func (j *job) baseBinary(base *Side, target, bench string) string {
	if set := base.buildFor(target); set != nil {
		if set.err == nil {
			if b := set.bins[bench]; b != nil && b.OK {
				return b.SHA256
			}
		}
		return ""
	}
	if meas := base.Meas[target]; meas != nil {
		return meas.Binaries[bench].SHA256
	}
	return ""
}

func (j *job) runJob(ex executor.Executor, serial *sync.Mutex, t config.Target, sd *Side, dir string, b bench.Benchmark, runs *Runs) func(context.Context) {
	return func(ctx context.Context) {
		if serial != nil {
			// A board runs one benchmark at a time: timings on a busy
			// board mean nothing.
			serial.Lock()
			defer serial.Unlock()
		}
		if sd.HasFailed(t.Name) {
			return
		}
		spec := j.runSpec(t, dir, b)
		j.env.Busy.Begin()
		o, err := ex.Run(ctx, spec)
		j.env.Busy.End()
		j.env.Stats.AddRun()
		j.env.Progress.Step(sd.Name + " " + spec.Name)
		if err != nil {
			if j.hooks.RunFault == nil || !j.hooks.RunFault(sd, runs, err) {
				sd.Fail(t.Name, err.Error())
			}
			return
		}
		j.record(t, sd, b, runs, o)
	}
}

// runSpec is the run of benchmark b of the build in dir on target t.
func (j *job) runSpec(t config.Target, dir string, b bench.Benchmark) executor.Spec {
	return executor.Spec{
		Name: t.Name + "/" + b.Name,
		Dir:  filepath.Join(dir, "bin"),
		Argv: recipe.Expand(j.env.Recipe.Run.Command, map[string][]string{"binary": {b.Name}, "args": b.Args}),
		Env:  j.env.Recipe.Run.EnvList(),
		// The target's timeout bounds one run of one benchmark.
		Timeout: time.Duration(t.Timeout),
		// Executors that run it on this host (qemu-user) run it here;
		// the directory is mounted read-only.
		Sandbox: j.env.Sandbox,
	}
}

// record adds the outcome of one run of b to its samples, or notes why
// the run failed.
func (j *job) record(t config.Target, sd *Side, b bench.Benchmark, runs *Runs, o *executor.Outcome) {
	note := ""
	switch {
	case o.TimedOut:
		note = fmt.Sprintf("timed out after %s", time.Duration(t.Timeout))
	case !o.OK():
		note = "run failed (" + o.Describe() + "): " + kinds.Tail(o.Stderr, 4)
	case j.env.Recipe.Run.Check == "checksum":
		got, ok := bench.Checksum(o.Stdout)
		if !ok {
			note = "no checksum line in the output: " + kinds.Tail(o.Stdout, 2)
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
		if runs.profile == nil {
			runs.profile = o.Profile
		}
	}
	if target.TraitsOf(t).OnBoard {
		// On a board, wall time of the benchmark (the SSH session's
		// own cost is the same for base and head).
		runs.times = append(runs.times, o.Wall.Seconds())
	} else {
		runs.times = append(runs.times, o.CPU.Seconds())
	}
}

// assemble builds the measurement of one side on one target from its
// build and runs.
func (j *job) assemble(repo string, sd *Side, t config.Target, sides []*Side) (*store.Measurement, error) {
	tc := sd.toolchain[t.Name]
	set := sd.buildFor(t.Name)
	meas := &store.Measurement{
		Key:       sd.Key[t.Name],
		Subject:   sd.Commit.Subject,
		Toolchain: tc.Desc,
		Binaries:  map[string]store.Binary{},
	}
	var baseMeas *store.Measurement
	if sd != sides[0] {
		baseMeas = sides[0].Meas[t.Name]
	}
	add := func(bench, metric string, note string, identical bool, samples ...float64) {
		meta, _ := result.LookupMetric(metric)
		meas.Results = append(meas.Results, result.Result{
			Target: t.Name, Suite: j.env.Suite.Name, Benchmark: bench, Metric: metric, Unit: meta.Unit,
			Samples: samples, Note: note, Identical: identical,
		})
	}
	for _, b := range j.env.Suite.Benchmarks {
		bin := set.bins[b.Name]
		if bin == nil {
			return nil, fmt.Errorf("%s was not built", b.Name)
		}
		if j.env.Recipe.Build.Has(result.CompileTime) {
			add(b.Name, result.CompileTime, "", false, bin.CompileCPU)
		}
		if !bin.OK {
			add(b.Name, result.Status, bin.Note, false, result.Fail)
			continue
		}
		runs := sd.runs[t.Name][b.Name]
		meas.Binaries[b.Name] = store.Binary{SHA256: bin.SHA256, Functions: bin.Functions, Profile: runs.profile}
		if j.env.Recipe.Build.Has(result.CodeSize) {
			add(b.Name, result.CodeSize, "", false, float64(bin.Text))
		}
		if runs.identical {
			if baseMeas == nil {
				return nil, fmt.Errorf("head binary of %s is identical to the base's, but the base could not be measured", b.Name)
			}
			bb := meas.Binaries[b.Name]
			bb.Profile = baseMeas.Binaries[b.Name].Profile
			meas.Binaries[b.Name] = bb
			for _, r := range baseMeas.Results {
				if r.Benchmark == b.Name && r.Metric != result.CodeSize && r.Metric != result.CompileTime && j.env.Recipe.Run.Has(r.Metric) {
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
		if j.env.Recipe.Run.Has(result.Status) {
			add(b.Name, result.Status, "", false, result.Pass)
		}
		if insn := cmp.Or(j.hooks.Instructions, result.Instructions); j.env.Recipe.Run.Has(insn) && len(runs.instructions) > 0 {
			add(b.Name, insn, "", false, runs.instructions...)
		}
		if j.env.Recipe.Run.Has(result.Time) && len(runs.times) > 0 {
			add(b.Name, result.Time, "", false, runs.times...)
		}
	}
	meas.Results = append(meas.Results, toolchainResults(j.env.Suite.Name, t, tc)...)
	meas.Results = append(meas.Results, j.bootResults(sd, t, baseMeas)...)
	result.Sort(meas.Results)
	return meas, nil
}
