package distro

// The distribution scenario in a LAVA lab: each side's kernel boots the
// arch's image on a device of the lab, in one LAVA job per side
// (bot/lava's DistroLAMP job, recipes/lava/distro-lamp.yaml.tmpl), and
// the load generator runs inside the guest as under qemu-system. There is
// no instruction-counting plugin in a lab: the pages get requests per
// second, latencies and status, as on a board.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/executor"
	lavalab "github.com/tcbot/tcbot/bot/lava"
	"github.com/tcbot/tcbot/bot/measure/kinds"
	"github.com/tcbot/tcbot/bot/target"
)

// inLAVA reports whether t is a LAVA lab's (its executor batches a round
// of runs into one job).
func inLAVA(t config.Target) bool { return target.TraitsOf(t).Batched }

// lavaSide is one side's job on a LAVA target.
type lavaSide struct {
	sd  *side
	out *lavalab.DistroLAMPOutcome
	err error
}

// runLAVA measures each side that still needs it on LAVA target t: its
// kernel (built by Build), the arch's image (compressed once, beside it),
// tcbot's ramdisk and the load generator are published on the LAVA
// executor's artifact server, and one DistroLAMP job per side runs the
// recipe's load, both sides' jobs submitted at once (a lab with two
// devices runs them side by side). A kernel that does not boot the system
// (LAVA ends the job Incomplete: it panicked, or the prompt never came)
// or that dies under the load is the side's failure, with LAVA's reason;
// the lab's own failures are infrastructure errors.
func (j *job) runLAVA(ctx context.Context, c *kinds.Change, t config.Target) error {
	var sides []*side
	for _, sd := range j.sides {
		if c.Todo(sd.Side, t) {
			sides = append(sides, sd)
		}
	}
	if len(sides) == 0 {
		return nil
	}
	infra := func(sd *side, err error) {
		sd.Fail(t.Name, err.Error())
		c.Infra = append(c.Infra, fmt.Sprintf("%s: %s: %v", t.Name, sd.Name, err))
	}
	fail := func(err error) {
		for _, sd := range sides {
			infra(sd, err)
		}
	}
	if j.lib != nil {
		fail(fmt.Errorf("recipe %s: a C library under test is not measured in a LAVA lab (the job lays no tree over the image): use a qemu-system target", j.env.Recipe.Name))
		return nil
	}
	img, lg := j.images[t.Arch], j.loadgen[t.Arch]
	if img == nil || lg == "" {
		if j.builtKernel(t) {
			fail(errors.New("no image for " + t.Arch))
		} else {
			j.kernelsNotBuilt(sides, t)
		}
		return nil
	}
	ex, err := j.env.NewExecutor(t, nil)
	if err != nil {
		fail(err)
		return nil
	}
	lex, ok := ex.(*lavalab.Executor)
	if !ok {
		fail(fmt.Errorf("target %s: executor %s is not a LAVA lab's", t.Name, ex.Name()))
		return nil
	}
	defer lex.Cleanup()
	j.env.Busy.Begin()
	image, err := CompressedImage(ctx, img.Path)
	j.env.Busy.End()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fail(err)
		return nil
	}
	if err := lex.PrepareDistroLAMP(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fail(err)
		return nil
	}
	l := j.d.Load
	job := lavalab.DistroLAMP{Arch: t.Arch, Requests: l.Requests, Connections: l.Connections, Warmup: l.Warmup, Samples: l.Samples}
	if lex.Memory == 0 {
		job.Memory = j.d.MemoryMiB
	}
	if d, err := time.ParseDuration(l.Timeout); err == nil && d > 0 {
		// Starting the stack, then each load generator run.
		job.TestTimeout = 10*time.Minute + time.Duration(l.Samples*len(lavalab.DistroLAMPPages))*d
	}
	var runs []*lavaSide
	for _, sd := range sides {
		switch k := sd.kernels[t.Name]; {
		case k == nil:
			infra(sd, errors.New("no kernel was built for this side"))
		case k.Note != "":
			sd.notRun[t.Name] = "not run: the kernel did not build"
		default:
			runs = append(runs, &lavaSide{sd: sd})
		}
	}
	j.env.Progress.Start("lamp "+t.Name+" (LAVA)", len(runs))
	var wg sync.WaitGroup
	for _, r := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dj := job
			dj.JobName = fmt.Sprintf("%s distro-lamp %s %s@%s", lex.JobName, r.sd.Name, c.Repo.Name, short(r.sd.Commit.SHA))
			j.env.Busy.Begin()
			r.out, r.err = lex.RunDistroLAMP(ctx, dj, lavalab.DistroLAMPFiles{
				Kernel: r.sd.kernels[t.Name].Path, Image: image, ImageCompression: "zstd", Loadgen: lg})
			j.env.Busy.End()
			j.env.Progress.Step(r.sd.Name)
		}()
	}
	wg.Wait()
	j.env.Progress.Finish()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	for _, r := range runs {
		j.recordLAVA(c, t, r)
	}
	return nil
}

// recordLAVA turns a side's finished job into what Collect reports.
func (j *job) recordLAVA(c *kinds.Change, t config.Target, r *lavaSide) {
	sd, out := r.sd, r.out
	if r.err != nil {
		sd.Fail(t.Name, r.err.Error())
		c.Infra = append(c.Infra, fmt.Sprintf("%s: %s: %v", t.Name, sd.Name, r.err))
		return
	}
	k := sd.kernels[t.Name]
	job := fmt.Sprintf("LAVA job %d, %s", out.Job, out.URL)
	j.env.Log.WithField("target", t.Name).Infof("%s: %s: booted %t in %s", sd.Name, job, out.BootFailure == "", out.Took.Round(time.Second))
	if out.BootFailure != "" {
		k.BootFailure = out.BootFailure + " (" + job + ")"
		sd.notRun[t.Name] = "not run: the kernel did not boot the system: " + k.BootFailure
		return
	}
	res := out.Results
	if out.RunFailure == "" && !res.Started {
		// As under qemu-system: a system whose services do not start did
		// not boot.
		k.BootFailure = fmt.Sprintf("the LAMP stack did not start (tcbot-lamp-start failed; its output is in %s)", job)
		sd.notRun[t.Name] = "not run: the kernel did not boot the system: " + k.BootFailure
		return
	}
	boot := executor.BootInfo{Time: seconds(out.BootSeconds)}
	if res != nil {
		boot.Time += seconds(res.StartSeconds)
		boot.GuestUptime = seconds(res.ReadyUptime)
	}
	if boot.Time > 0 || boot.GuestUptime > 0 {
		sd.boots[t.Name] = append(sd.boots[t.Name], boot)
	}
	for _, page := range j.d.Load.Pages {
		pr := sd.page(t.Name, page)
		if out.RunFailure != "" {
			pr.fail = "the kernel failed during the load: " + out.RunFailure + " (" + job + ")"
			continue
		}
		p := res.Page(page)
		switch {
		case p == nil:
			pr.fail = fmt.Sprintf("the job measured no %s page (%s)", page, job)
		case p.Failed != "":
			pr.fail = p.Failed + " (" + job + ")"
		default:
			pr.rps = append(pr.rps, p.RequestsPerSecond...)
			pr.p50 = append(pr.p50, p.LatencyP50ms...)
			pr.p99 = append(pr.p99, p.LatencyP99ms...)
			for range p.RequestsPerSecond {
				j.env.Stats.AddRun()
			}
		}
	}
}

// builtKernel reports whether some side built a kernel for t.
func (j *job) builtKernel(t config.Target) bool {
	for _, sd := range j.sides {
		if k := sd.kernels[t.Name]; k != nil && k.Note == "" {
			return true
		}
	}
	return false
}

// kernelsNotBuilt notes, for sides whose kernel did not build (so no
// image was made either), that their pages did not run; other sides are
// infrastructure errors.
func (j *job) kernelsNotBuilt(sides []*side, t config.Target) {
	for _, sd := range sides {
		if k := sd.kernels[t.Name]; k != nil && k.Note != "" {
			sd.notRun[t.Name] = "not run: the kernel did not build"
		}
	}
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// CompressedImage returns the image at img compressed with zstd, the file
// beside it (rootfs.img.zst), made once per image: a 2 GiB image of which
// ~540 MB is used is ~190 MB to download, and LAVA's unzstd restores it on
// the worker. An older compressed file than the image is made again.
func CompressedImage(ctx context.Context, img string) (string, error) {
	out := img + ".zst"
	ist, err := os.Stat(img)
	if err != nil {
		return "", err
	}
	if st, err := os.Stat(out); err == nil && st.Mode().IsRegular() && !st.ModTime().Before(ist.ModTime()) {
		return out, nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(img), filepath.Base(out)+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("compress the image for LAVA: %w", err)
	}
	defer os.Remove(tmp.Name())
	err = compress(ctx, tmp, img)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o444)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), out)
	}
	if err != nil {
		return "", fmt.Errorf("compress the image %s for LAVA: %w", img, err)
	}
	return out, nil
}

func compress(ctx context.Context, w io.Writer, path string) error {
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	enc, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(max(1, runtime.NumCPU())))
	if err != nil {
		return err
	}
	buf := make([]byte, 4<<20)
	for {
		if err := ctx.Err(); err != nil {
			enc.Close()
			return err
		}
		n, rerr := in.Read(buf)
		if n > 0 {
			if _, err := enc.Write(buf[:n]); err != nil {
				enc.Close()
				return err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			enc.Close()
			return rerr
		}
	}
	return enc.Close()
}
