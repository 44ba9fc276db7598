package measure

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"text/template"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/executor"
	"github.com/tcbot/tcbot/bot/lava"
	"github.com/tcbot/tcbot/bot/suite"
)

// batched reports whether a target takes each round of runs as one batch
// (executor.Batcher): a LAVA job costs a boot, so one job runs every
// benchmark and sample of both sides of a round, interleaved, on one
// device.
func batched(t config.Target) bool { return t.Executor == "lava" }

// newLAVA makes the executor of a LAVA target. The token is the one
// config.LoadSecrets read from the file or environment variable the config
// names (LAVATarget.Token), here and nowhere else.
func (m *Measurer) newLAVA(t config.Target, files []string) (executor.Executor, error) {
	l := t.LAVA
	if l == nil {
		return nil, fmt.Errorf("target %s: executor lava needs a lava: section", t.Name)
	}
	var tmpl *template.Template
	if l.JobTemplate != "" {
		text, err := os.ReadFile(l.JobTemplate)
		if err != nil {
			return nil, fmt.Errorf("target %s: job_template: %w", t.Name, err)
		}
		if tmpl, err = lava.ParseTemplate(l.JobTemplate, string(text)); err != nil {
			return nil, fmt.Errorf("target %s: %w", t.Name, err)
		}
	}
	retries := lava.DefaultRetries
	if l.Retries != nil {
		retries = *l.Retries
		if retries == 0 {
			retries = -1 // the executor's "none"
		}
	}
	var log logrus.FieldLogger
	if m.Log != nil {
		log = m.Log.WithField("target", t.Name)
	}
	token, err := l.Token()
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", t.Name, err)
	}
	// Where the token came from, for the executor's messages.
	source := l.TokenEnv
	if l.TokenFile != "" {
		source = l.TokenFile
	}
	return &lava.Executor{
		Client:     &lava.Client{URL: l.URL, Token: token},
		TokenEnv:   source,
		DeviceType: l.DeviceType, Tags: l.Tags,
		Arch: t.Arch, CPU: t.CPU,
		Kernel: l.Kernel, KernelArgs: l.KernelArgs, Memory: l.Memory,
		Priority: l.Priority, Visibility: l.Visibility,
		Template:       tmpl,
		CacheDir:       lavaCacheDir(m.Config),
		CC:             config.Arches[t.Arch].CC,
		ArtifactListen: l.ArtifactListen, ArtifactURL: l.ArtifactURL,
		Files:       files,
		Retries:     retries,
		BootTimeout: time.Duration(l.BootTimeout),
		JobName:     "tcbot " + t.Name,
		Log:         log,
	}, nil
}

// lavaCacheDir is where LAVA targets keep Debian's kernels and busybox
// (bot/kernel's cache, shared with qemu-system targets) and the guest's
// timer.
func lavaCacheDir(cfg *config.Config) string { return filepath.Join(cfg.Workdir, "kernels") }

// batchRun is one run of a batch: a benchmark of one side.
type batchRun struct {
	sd   *side
	dir  string
	b    suite.Benchmark
	runs *benchRuns
}

// runBatch runs a round of runs on a target in one batch and records each
// outcome as runJob would. A failed batch fails the target for every side
// in it (an infrastructure error, retried by the executor already).
func (m *Measurer) runBatch(ex executor.Batcher, t config.Target, batch []batchRun, st *Stats) func(context.Context) {
	return func(ctx context.Context) {
		specs := make([]executor.Spec, len(batch))
		for i, r := range batch {
			specs[i] = m.runSpec(t, r.dir, r.b)
		}
		m.busy.begin()
		out, err := ex.RunBatch(ctx, specs)
		m.busy.end()
		if err == nil && len(out) != len(specs) {
			err = fmt.Errorf("%s: %d outcomes for %d runs", t.Name, len(out), len(specs))
		}
		for i, r := range batch {
			st.addRun()
			m.Progress.Step(r.sd.name + " " + specs[i].Name)
			if err != nil {
				r.sd.fail(t.Name, err.Error())
				continue
			}
			m.record(t, r.sd, r.b, r.runs, out[i])
		}
	}
}
