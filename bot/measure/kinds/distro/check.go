package distro

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/distro"
	"github.com/tcbot/tcbot/bot/executor"
	"github.com/tcbot/tcbot/bot/insncount"
	"github.com/tcbot/tcbot/bot/measure/kinds"
	"github.com/tcbot/tcbot/bot/measure/kinds/kernel"
	"github.com/tcbot/tcbot/bot/oe"
	"github.com/tcbot/tcbot/bot/source"
	"github.com/tcbot/tcbot/bot/store"
)

// CheckSystem boots the Debian system on t with revision c's kernel (both
// built or found in the workdir's caches) and reports what came up: the
// kernel's version, the image and its LAMP versions, a test request and a
// short load with its instruction count per request.
func (Kind) CheckSystem(ctx context.Context, env *kinds.Env, repo *config.Repo, mirror *source.Mirror, c source.Commit, t config.Target) (string, error) {
	ch := &kinds.Change{Repo: repo, Mirror: mirror, Targets: []config.Target{t},
		Sides: [2]*kinds.Side{kinds.NewSide("base", c), kinds.NewSide("head", c)}}
	kj, err := Kind{}.Start(ctx, env, ch)
	if err != nil {
		return "", err
	}
	defer kj.Close()
	if len(ch.Targets) == 0 {
		return "", fmt.Errorf("%s: recipe %s boots a kernel: want executor qemu-system", t.Name, env.Recipe.Name)
	}
	if b, ok := kj.(*benchJob); ok {
		return b.checkSystem(ctx, ch, t)
	}
	j := kj.(*job)
	var sd *side
	if j.lib != nil {
		// The revision's C library over the image, the fixed kernel.
		if err := j.Resolve(ctx, ch); err != nil {
			return "", err
		}
		ch.Sides[1].Meas[t.Name] = &store.Measurement{} // one side is enough
		if err := j.Build(ctx, ch); err != nil {
			return "", err
		}
		if m := ch.Sides[0].Meas[t.Name]; m != nil && len(m.Results) > 0 {
			return "", fmt.Errorf("%s: %s", t.Name, m.Results[0].Note)
		}
		if len(ch.Infra) > 0 {
			return "", fmt.Errorf("%s", strings.Join(ch.Infra, "; "))
		}
		sd = j.sides[0]
	} else {
		sd = &side{Side: ch.Sides[0], kernels: map[string]*kernel.Built{}, boots: map[string][]executor.BootInfo{},
			pages: map[string]map[string]*pageRuns{}, notRun: map[string]string{}}
		j.sides[0] = sd
	}
	if booted(t) && j.lib == nil {
		k, err := kernel.Build(ctx, env, mirror, repo, c, t.Arch)
		if err != nil {
			return "", err
		}
		if k.Note != "" {
			return "", fmt.Errorf("%s: the kernel of %s@%s: %s", t.Name, repo.Name, short(c.SHA), k.Note)
		}
		sd.kernels[t.Name] = k
	}
	start := time.Now()
	if err := j.prepareArch(ctx, t.Arch); err != nil {
		return "", fmt.Errorf("%s: %w", t.Name, err)
	}
	img := j.images[t.Arch]
	how := fmt.Sprintf("built in %s", time.Since(start).Round(time.Second))
	if img != nil && img.Cached {
		how = fmt.Sprintf("cached; built by %s in %.0fs", img.Method, img.BuildTime)
	}
	g, err := j.boot(ctx, sd, t)
	if err != nil {
		return "", fmt.Errorf("%s: %w", t.Name, err)
	}
	if g == nil {
		return "", fmt.Errorf("%s: %s", t.Name, sd.notRun[t.Name])
	}
	var info executor.BootInfo
	if b, ok := g.q.(executor.Booter); ok {
		info, _ = b.Boot()
	}
	run := func(argv ...string) (string, error) {
		out, err := g.q.Run(ctx, executor.Spec{Name: "check", Argv: argv, Env: []string{"LC_ALL=C", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, Timeout: 5 * time.Minute})
		if err != nil {
			return "", err
		}
		if out.ExitCode != 0 {
			return "", fmt.Errorf("%s: exit %d: %s", strings.Join(argv, " "), out.ExitCode, kinds.OneLineTail(string(out.Stderr), 4))
		}
		return strings.TrimSpace(string(out.Stdout)), nil
	}
	uname, err := run("uname", "-r")
	if err != nil {
		return "", fmt.Errorf("%s: %w", t.Name, err)
	}
	page, err := run("/bin/sh", "-c", "curl -fsS "+distro.ReadPage+" | tail -n 1")
	if err != nil {
		return "", fmt.Errorf("%s: the read page: %w", t.Name, err)
	}
	argv := []string{"./loadgen", "-w", "5", "-n", "20", "-c", "2", "-e", distro.PageOK, distro.ReadPage}
	if g.marks != "" {
		argv = append(argv[:1], append([]string{"-M"}, argv[1:]...)...)
	}
	load, err := run(argv...)
	if err != nil {
		return "", fmt.Errorf("%s: a short load: %w", t.Name, err)
	}
	var lines []string
	for _, l := range strings.Split(load, "\n") {
		if !strings.HasPrefix(l, "marked: ") {
			lines = append(lines, l)
		}
	}
	res, err := oe.ParseLAMP("loadgen output", []byte(strings.Join(lines, "\n")+"\n"))
	if err != nil {
		return "", fmt.Errorf("%s: %w", t.Name, err)
	}
	ipr := ""
	if g.marks != "" {
		marks, err := insncount.ReadMarks(g.marks)
		if err != nil {
			return "", errors.New(t.Name + ": " + err.Error())
		}
		if len(marks) >= 2 {
			ipr = fmt.Sprintf(", %.3g instructions/request", float64(marks[len(marks)-1]-marks[len(marks)-2])/20)
		}
	}
	var b strings.Builder
	if !booted(t) {
		versions, _ := run("/bin/sh", "-c", "dpkg-query -W -f='${Package} ${Version}, ' apache2 php8.2-fpm mariadb-server libc6 2>/dev/null")
		fmt.Fprintf(&b, "%s: usable for %s: the board runs kernel %s and serves the LAMP application\n  %s\n  GET %s: %s\n  load: %d requests, %d errors, %.1f req/s, p50 %.1f ms, p99 %.1f ms (no instruction counts on a board)",
			t.Name, env.Recipe.Name, uname, strings.TrimRight(versions, ", "), distro.ReadPage, page, res.Requests, res.Errors, res.RequestsPerSecond, res.LatencyP50ms, res.LatencyP99ms)
		return b.String(), nil
	}
	kernelOf := repo.Name + "@" + short(c.SHA)
	if j.lib != nil {
		kernelOf = j.lib.kernel.Name + "@" + short(j.lib.commit.SHA)
	}
	fmt.Fprintf(&b, "%s: usable for %s: booted Debian %s image %s (%s; %s) with kernel %s of %s in %.1fs (%.2fs on the guest's clock to a ready web server)\n",
		t.Name, env.Recipe.Name, j.spec.Suite, img.Key[:12], img.Path, how, uname, kernelOf, info.Time.Seconds(), info.GuestUptime.Seconds())
	fmt.Fprintf(&b, "  %s\n", versionsLine(img))
	if j.lib != nil {
		// The C library the system runs: the loader says whose it is.
		banner, err := run("/bin/sh", "-c", "/lib/ld-linux-*.so.* --version | head -n 1")
		if err != nil {
			return "", fmt.Errorf("%s: the C library: %w", t.Name, err)
		}
		fmt.Fprintf(&b, "  %s %s@%s over the image's libc6 (%d files replaced): %s\n", j.lib.component, repo.Name, short(c.SHA), sd.replaced[t.Name], banner)
	}
	fmt.Fprintf(&b, "  GET %s: %s\n", distro.ReadPage, page)
	fmt.Fprintf(&b, "  load: %d requests, %d errors, %.1f req/s, p50 %.1f ms, p99 %.1f ms%s", res.Requests, res.Errors, res.RequestsPerSecond, res.LatencyP50ms, res.LatencyP99ms, ipr)
	return b.String(), nil
}

func versionsLine(img *distro.Image) string {
	var out []string
	for _, p := range []string{"apache2", "php8.2-fpm", "mariadb-server", "libc6"} {
		if v := img.Versions[p]; v != "" {
			out = append(out, p+" "+v)
		}
	}
	return strings.Join(out, ", ")
}
