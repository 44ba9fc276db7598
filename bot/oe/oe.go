// Package oe turns an OpenEmbedded build directory into tcbot results and
// compares two of them (`tcbot oe-compare`). It reads what bitbake leaves
// behind, in the formats openembedded-core writes them:
//
//   - buildhistory/ (buildhistory.bbclass): the image size, the packages
//     installed in the image and their sizes, each recipe's version;
//   - tmp/buildstats/ (buildstats.bbclass): per task, its status and CPU
//     time;
//   - tmp/log/oeqa/testresults.json (oeqa, testimage.bbclass): the status
//     of each runtime test and ptest;
//   - tcbot-lamp.txt: the LAMP load generator's throughput (see LAMP).
//
// The parsers are pure functions of a file name and its bytes; malformed
// or truncated input is an error naming the file and the line, never a
// silent zero. Reading a build directory only reads: nothing is written,
// and concurrent calls are safe.
package oe

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tcbot/tcbot/bot/result"
)

// Suite is the suite of every result of an OpenEmbedded build.
const Suite = "oe-lamp"

// Metric names (result.Metrics).
const (
	ImageSize         = "image-size"
	PackageSize       = "package-size"
	BuildCPUTime      = "build-cpu-time"
	RequestsPerSecond = "requests-per-second"
)

// LAMPBenchmark is the benchmark name of the LAMP load test.
const LAMPBenchmark = "lamp/php-mariadb"

// Benchmark name prefixes.
const (
	packagePrefix = "pkg/"
	recipePrefix  = "recipe/"
	testPrefix    = "test/"
)

// logTail is how many lines of a failed task's log go into its note.
const logTail = 10

// Results reads an OpenEmbedded build directory, the one kas and bitbake
// use (TOPDIR: it holds conf/, buildhistory/ and tmp/), into results of
// suite "oe-lamp" on the target named by the image's MACHINE:
//
//   - image-size per image (benchmark: the image name), bytes;
//   - package-size per installed package ("pkg/<package>"), bytes;
//   - build-cpu-time per recipe ("recipe/<PN>"), seconds of CPU summed over
//     the recipe's tasks;
//   - status per recipe ("recipe/<PN>"): 0 when a task failed, with a note
//     naming the task and ending with its log;
//   - status per testimage test ("test/<test id>"), when testimage ran;
//   - requests-per-second and status of "lamp/php-mariadb", when the LAMP
//     load generator wrote tcbot-lamp.txt.
//
// buildhistory and buildstats are required: without them there is nothing
// to compare.
func Results(buildDir string) ([]result.Result, error) {
	b, err := read(buildDir)
	if err != nil {
		return nil, err
	}
	return b.results, nil
}

// build is what was read from one build directory.
type build struct {
	dir         string
	machine     string // MACHINE, the results' target
	machineArch string // MACHINE_ARCH, its directory under buildhistory/images
	tmp         string // TMPDIR
	// pfToPN maps the PF of each recipe buildhistory knows to its PN.
	pfToPN map[string]string
	// pkgs indexes the buildhistory package data by runtime package name.
	pkgs map[string][]PackageInfo
	// installed lists each image's installed packages.
	installed map[string][]string
	results   []result.Result
}

func read(dir string) (*build, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("OpenEmbedded build directory: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a directory (want an OpenEmbedded build directory, holding buildhistory/ and tmp/)", dir)
	}
	b := &build{dir: dir, pfToPN: map[string]string{}, pkgs: map[string][]PackageInfo{}, installed: map[string][]string{}}
	for _, step := range []func() error{b.readPackages, b.readImages, b.findTmp, b.readBuildstats, b.readTestResults, b.readLAMP} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	result.Sort(b.results)
	return b, nil
}

// rel names a file for messages and notes: relative to the build
// directory, as a user who knows the layout expects.
func (b *build) rel(path string) string {
	if r, err := filepath.Rel(b.dir, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}

// readFile reads a file for a parser and returns the name to give it.
func readFile(path string) (string, []byte, error) {
	data, err := os.ReadFile(path)
	return path, data, err
}

func (b *build) add(r result.Result) {
	if m, ok := result.LookupMetric(r.Metric); ok && r.Unit == "" {
		r.Unit = m.Unit
	}
	r.Target, r.Suite = b.machine, Suite
	b.results = append(b.results, r)
}

// listDirs returns the names of the subdirectories of path (following
// symbolic links), sorted; none when path does not exist.
func listDirs(path string) ([]string, error) {
	es, err := os.ReadDir(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range es {
		isDir := e.IsDir()
		if e.Type()&fs.ModeSymlink != 0 {
			fi, err := os.Stat(filepath.Join(path, e.Name()))
			isDir = err == nil && fi.IsDir()
		}
		if isDir {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

const enableBuildhistory = `enable it in the build's local.conf (or the kas file's local_conf_header) with INHERIT += "buildhistory" and BUILDHISTORY_COMMIT = "0", as tcbot's kas files do`

// readPackages reads buildhistory/packages/<arch>/<PN>/latest (the
// recipe's version, for PF -> PN) and <PN>/<package>/latest (the package's
// size in bytes).
func (b *build) readPackages() error {
	bh := filepath.Join(b.dir, "buildhistory")
	if !isDir(bh) {
		return fmt.Errorf("%s has no buildhistory/ directory: %s", b.dir, enableBuildhistory)
	}
	root := filepath.Join(bh, "packages")
	archs, err := listDirs(root)
	if err != nil {
		return fmt.Errorf("%s: %w", b.dir, err)
	}
	for _, arch := range archs {
		recipes, err := listDirs(filepath.Join(root, arch))
		if err != nil {
			return fmt.Errorf("%s: %w", b.dir, err)
		}
		for _, pn := range recipes {
			rdir := filepath.Join(root, arch, pn)
			if p := filepath.Join(rdir, "latest"); exists(p) {
				name, data, err := readFile(p)
				if err != nil {
					return err
				}
				ri, err := ParseRecipeLatest(name, data)
				if err != nil {
					return err
				}
				b.pfToPN[ri.PF(pn)] = pn
			}
			pkgs, err := listDirs(rdir)
			if err != nil {
				return fmt.Errorf("%s: %w", b.dir, err)
			}
			for _, pkg := range pkgs {
				p := filepath.Join(rdir, pkg, "latest")
				if !exists(p) {
					continue
				}
				name, data, err := readFile(p)
				if err != nil {
					return err
				}
				pi, err := ParsePackageLatest(name, data)
				if err != nil {
					return err
				}
				runtime := pkg
				if pi.PKG != "" {
					runtime = pi.PKG
				}
				b.pkgs[runtime] = append(b.pkgs[runtime], pi)
			}
		}
	}
	return nil
}

// readImages reads buildhistory/images/<MACHINE_ARCH>/<TCLIBC>/<image>/:
// the image size and the installed packages with their sizes.
func (b *build) readImages() error {
	root := filepath.Join(b.dir, "buildhistory", "images")
	type image struct{ arch, libc, name, dir string }
	var imgs []image
	archs, err := listDirs(root)
	if err != nil {
		return fmt.Errorf("%s: %w", b.dir, err)
	}
	for _, arch := range archs {
		libcs, err := listDirs(filepath.Join(root, arch))
		if err != nil {
			return fmt.Errorf("%s: %w", b.dir, err)
		}
		for _, libc := range libcs {
			names, err := listDirs(filepath.Join(root, arch, libc))
			if err != nil {
				return fmt.Errorf("%s: %w", b.dir, err)
			}
			for _, n := range names {
				d := filepath.Join(root, arch, libc, n)
				if exists(filepath.Join(d, "image-info.txt")) {
					imgs = append(imgs, image{arch, libc, n, d})
				}
			}
		}
	}
	if len(imgs) == 0 {
		return fmt.Errorf("%s: no image in buildhistory/images/<machine>/<libc>/<image>/image-info.txt: build an image with buildhistory on (BUILDHISTORY_FEATURES must keep \"image\"); %s", b.dir, enableBuildhistory)
	}
	var machines []string
	for _, img := range imgs {
		if len(machines) == 0 || machines[len(machines)-1] != img.arch {
			machines = append(machines, img.arch)
		}
	}
	if len(machines) > 1 {
		return fmt.Errorf("%s: buildhistory/images holds images of %d machines (%s); tcbot compares one MACHINE per build directory: use one build directory per machine", b.dir, len(machines), strings.Join(machines, ", "))
	}
	b.machineArch, b.machine = machines[0], machines[0]

	seen := make(map[string]bool)
	for _, img := range imgs {
		if seen[img.name] {
			return fmt.Errorf("%s: image %s is built for more than one libc under buildhistory/images/%s", b.dir, img.name, img.arch)
		}
		seen[img.name] = true
		if p := filepath.Join(img.dir, "build-id.txt"); exists(p) {
			name, data, err := readFile(p)
			if err != nil {
				return err
			}
			m, in, err := parseBuildID(name, data)
			if err != nil {
				return err
			}
			if strings.ReplaceAll(m, "-", "_") != img.arch || in != img.name {
				return fmt.Errorf("%s:1: names MACHINE %s and image %s, but it is under buildhistory/images/%s/%s/%s", name, m, in, img.arch, img.libc, img.name)
			}
			b.machine = m
		}
	}

	perPackage := make(map[string]*pkgResult)
	var order []string
	for _, img := range imgs {
		name, data, err := readFile(filepath.Join(img.dir, "image-info.txt"))
		if err != nil {
			return err
		}
		info, err := ParseImageInfo(name, data)
		if err != nil {
			return err
		}
		b.add(result.Result{Benchmark: img.name, Metric: ImageSize, Samples: []float64{float64(info.SizeBytes())}})

		p := filepath.Join(img.dir, "installed-package-sizes.txt")
		if !exists(p) {
			return fmt.Errorf("%s: no installed-package-sizes.txt next to image-info.txt (buildhistory writes both)", filepath.Dir(name))
		}
		name, data, err = readFile(p)
		if err != nil {
			return err
		}
		pkgs, err := ParseInstalledPackageSizes(name, data)
		if err != nil {
			return err
		}
		for _, ip := range pkgs {
			b.installed[img.name] = append(b.installed[img.name], ip.Name)
			size, note := b.packageBytes(ip, name)
			pr, ok := perPackage[ip.Name]
			if !ok {
				pr = &pkgResult{}
				perPackage[ip.Name] = pr
				order = append(order, ip.Name)
			}
			pr.add(img.name, float64(size), note)
		}
	}
	for _, n := range order {
		pr := perPackage[n]
		b.add(result.Result{Benchmark: packagePrefix + n, Metric: PackageSize, Samples: pr.sizes, Note: pr.note()})
	}
	return nil
}

// pkgResult gathers one package's sizes over the images installing it.
type pkgResult struct {
	sizes  []float64 // distinct
	images []string
	notes  []string
}

func (p *pkgResult) add(image string, size float64, note string) {
	p.images = append(p.images, image)
	found := false
	for _, s := range p.sizes {
		found = found || s == size
	}
	if !found {
		p.sizes = append(p.sizes, size)
	}
	if note != "" && (len(p.notes) == 0 || p.notes[len(p.notes)-1] != note) {
		p.notes = append(p.notes, note)
	}
}

func (p *pkgResult) note() string {
	notes := p.notes
	if len(p.sizes) > 1 {
		// Left as several samples, so the comparison reports the
		// inconsistency instead of picking one.
		notes = append(notes, "sizes differ between images "+strings.Join(p.images, ", ")+" (a stale image in buildhistory?)")
	}
	return strings.Join(notes, "; ")
}

// packageBytes is an installed package's size in bytes: PKGSIZE from its
// buildhistory "latest" file, which is exact, when one file of that
// runtime name agrees with the KiB that installed-package-sizes.txt lists;
// otherwise the KiB, with a note saying why.
func (b *build) packageBytes(ip InstalledPackage, listFile string) (int64, string) {
	var sizes []int64
	cands := b.pkgs[ip.Name]
	for _, c := range cands {
		// oe-pkgdata-util read-value rounds PKGSIZE to the nearest KiB.
		if (c.Size+512)/1024 != ip.SizeKiB {
			continue
		}
		dup := false
		for _, s := range sizes {
			dup = dup || s == c.Size
		}
		if !dup {
			sizes = append(sizes, c.Size)
		}
	}
	if len(sizes) == 1 {
		return sizes[0], ""
	}
	why := "no buildhistory package data for it"
	switch {
	case len(sizes) > 1:
		why = "several buildhistory packages are named " + ip.Name
	case len(cands) > 0:
		why = "its buildhistory package data disagrees (stale?)"
	}
	return ip.SizeKiB * 1024, fmt.Sprintf("size to the KiB from %s: %s", filepath.Base(listFile), why)
}

// findTmp finds TMPDIR: tmp/ under poky, tmp-glibc/ (tmp-${TCLIBC}) under
// plain openembedded-core.
func (b *build) findTmp() error {
	var found []string
	dirs, err := listDirs(b.dir)
	if err != nil {
		return fmt.Errorf("%s: %w", b.dir, err)
	}
	for _, d := range dirs {
		if (d == "tmp" || strings.HasPrefix(d, "tmp-")) && isDir(filepath.Join(b.dir, d, "buildstats")) {
			found = append(found, d)
		}
	}
	switch len(found) {
	case 0:
		return fmt.Errorf(`%s has no tmp/buildstats/: enable buildstats with USER_CLASSES += "buildstats" (poky's default local.conf has it)`, b.dir)
	case 1:
		b.tmp = filepath.Join(b.dir, found[0])
		return nil
	}
	return fmt.Errorf("%s: %d TMPDIRs hold buildstats (%s); tcbot reads one per build directory", b.dir, len(found), strings.Join(found, ", "))
}

// taskRun is one task of one recipe in the run that ran it last.
type taskRun struct {
	pf, task string
	run      string // BUILDNAME
	t        Task
}

// readBuildstats reads tmp/buildstats/<BUILDNAME>/ of every bitbake run,
// oldest first. A task that ran in several runs counts as in the last: the
// build directory's state is what that run left.
func (b *build) readBuildstats() error {
	root := filepath.Join(b.tmp, "buildstats")
	names, err := listDirs(root)
	if err != nil {
		return fmt.Errorf("%s: %w", b.dir, err)
	}
	type run struct {
		name    string
		summary BuildSummary
	}
	var runs []run
	for _, n := range names {
		p := filepath.Join(root, n, "build_stats")
		if !exists(p) {
			return fmt.Errorf("%s: %s has no build_stats file: not a buildstats run directory", b.dir, b.rel(filepath.Join(root, n)))
		}
		name, data, err := readFile(p)
		if err != nil {
			return err
		}
		s, err := ParseBuildSummary(name, data)
		if err != nil {
			return err
		}
		runs = append(runs, run{n, s})
	}
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].summary.Started < runs[j].summary.Started })

	type key struct{ pn, task string }
	last := make(map[key]taskRun)
	for _, r := range runs {
		inRun := make(map[key]string) // -> PF, to catch one PN under two PFs
		pfs, err := listDirs(filepath.Join(root, r.name))
		if err != nil {
			return fmt.Errorf("%s: %w", b.dir, err)
		}
		for _, pf := range pfs {
			dir := filepath.Join(root, r.name, pf)
			es, err := os.ReadDir(dir)
			if err != nil {
				return fmt.Errorf("%s: %w", b.dir, err)
			}
			for _, e := range es {
				// Task files are named by the task; anything else (the
				// reduced_proc_pressure/ samples, say) is not a recipe's.
				if !strings.HasPrefix(e.Name(), "do_") || e.IsDir() {
					continue
				}
				pn, err := b.pnOf(pf)
				if err != nil {
					return fmt.Errorf("%s: %w", b.rel(dir), err)
				}
				name, data, err := readFile(filepath.Join(dir, e.Name()))
				if err != nil {
					return err
				}
				t, err := ParseTask(name, data)
				if err != nil {
					return err
				}
				k := key{pn, e.Name()}
				if other, dup := inRun[k]; dup && other != pf {
					return fmt.Errorf("%s: buildstats run %s has %s of recipe %s under two PFs, %s and %s", b.dir, r.name, e.Name(), pn, other, pf)
				}
				inRun[k] = pf
				last[k] = taskRun{pf: pf, task: e.Name(), run: r.name, t: t}
			}
		}
	}

	type recipe struct {
		pf     string
		cpu    float64
		hasCPU bool
		failed []taskRun
	}
	recipes := make(map[string]*recipe)
	var pns []string
	for k, tr := range last {
		r, ok := recipes[k.pn]
		if !ok {
			r = &recipe{pf: tr.pf}
			recipes[k.pn] = r
			pns = append(pns, k.pn)
		}
		if s, ok := tr.t.CPUTime(); ok {
			r.cpu += s
			r.hasCPU = true
		}
		if tr.t.Failed() {
			r.failed = append(r.failed, tr)
		}
	}
	sort.Strings(pns)
	for _, pn := range pns {
		r := recipes[pn]
		status := result.Result{Benchmark: recipePrefix + pn, Metric: result.Status, Samples: []float64{result.Pass}}
		if len(r.failed) > 0 {
			sort.Slice(r.failed, func(i, j int) bool { return r.failed[i].task < r.failed[j].task })
			var notes []string
			for _, f := range r.failed {
				notes = append(notes, b.failureNote(pn, f.pf, f.task))
			}
			status.Samples, status.Note = []float64{result.Fail}, strings.Join(notes, "\n")
		}
		b.add(status)
		if r.hasCPU {
			b.add(result.Result{Benchmark: recipePrefix + pn, Metric: BuildCPUTime, Samples: []float64{r.cpu}})
		}
	}
	return nil
}

// pnOf returns the PN of a buildstats recipe directory, named by PF
// (PN-PV-PR, with PV "epoch_version" for a positive epoch). PN may hold
// dashes ("base-files", "gcc-cross-aarch64"), PV and PR never do, so
// buildhistory's version of the recipe decides when it has it, and the
// last two dash-separated fields are split off otherwise (recipes without
// packages, such as -native ones, are not in buildhistory).
func (b *build) pnOf(pf string) (string, error) {
	if pn, ok := b.pfToPN[pf]; ok {
		return pn, nil
	}
	f := strings.Split(pf, "-")
	if len(f) < 3 {
		return "", fmt.Errorf("cannot tell the recipe of %s: not a PF (PN-PV-PR)", pf)
	}
	pn := strings.Join(f[:len(f)-2], "-")
	if pn == "" || f[len(f)-2] == "" || f[len(f)-1] == "" {
		return "", fmt.Errorf("cannot tell the recipe of %s: not a PF (PN-PV-PR)", pf)
	}
	return pn, nil
}

// failureNote says which task failed and, when its log is still in the
// recipe's WORKDIR, how the log ends.
func (b *build) failureNote(pn, pf, task string) string {
	note := task + " failed"
	log := b.taskLog(pn, pf, task)
	if log == "" {
		return note
	}
	tail, err := lastLines(log, logTail)
	if err != nil || tail == "" {
		return note
	}
	return note + "; end of " + b.rel(log) + ":\n" + tail
}

// taskLog finds the log of a recipe's task:
// ${TMPDIR}/work/<arch>/<PN>/<version>/temp/log.<task>, the version
// directory being ${PV} (${PV}-${PR} before scarthgap) and so a prefix of
// PF after "PN-". "" when there is none.
func (b *build) taskLog(pn, pf, task string) string {
	work := filepath.Join(b.tmp, "work")
	archs, _ := listDirs(work)
	for _, arch := range archs {
		vers, _ := listDirs(filepath.Join(work, arch, pn))
		for _, v := range vers {
			if pf != pn+"-"+v && !strings.HasPrefix(pf, pn+"-"+v+"-") {
				continue
			}
			p := filepath.Join(work, arch, pn, v, "temp", "log."+task)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
				return p
			}
		}
	}
	return ""
}

// lastLines returns the last n lines of a file, reading at most its last
// 64 KiB (a compile log can be huge), each line cut to 300 bytes.
func lastLines(path string, n int) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	const window = 64 << 10
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	off := max(fi.Size()-window, 0)
	buf := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
		return "", err
	}
	return tail(string(buf), n, off > 0), nil
}

// tail returns the last n non-blank lines of s, dropping a first line
// that was cut by the read window.
func tail(s string, n int, cut bool) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if cut && len(ls) > 1 {
		ls = ls[1:]
	}
	var out []string
	for i := len(ls) - 1; i >= 0 && len(out) < n; i-- {
		l := strings.TrimRight(ls[i], " \t\r")
		if l == "" {
			continue
		}
		if len(l) > 300 {
			l = l[:300] + "…"
		}
		out = append(out, l)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return strings.Join(out, "\n")
}

// readTestResults reads ${TMPDIR}/log/oeqa/testresults.json, where
// testimage writes it unless OEQA_JSON_RESULT_DIR moves it, keeping the
// runs of this MACHINE. A test run by several runs counts as in the last
// (by STARTTIME); skipped tests give no result.
func (b *build) readTestResults() error {
	p := filepath.Join(b.tmp, "log", "oeqa", "testresults.json")
	if !exists(p) {
		return nil
	}
	name, data, err := readFile(p)
	if err != nil {
		return err
	}
	runs, err := ParseTestResults(name, data)
	if err != nil {
		return err
	}
	sort.SliceStable(runs, func(i, j int) bool {
		a, c := runs[i].Configuration["STARTTIME"], runs[j].Configuration["STARTTIME"]
		if a != c {
			return a < c
		}
		return runs[i].ID < runs[j].ID
	})
	tests := make(map[string]TestCase)
	for _, r := range runs {
		if m, ok := r.Configuration["MACHINE"]; ok && strings.ReplaceAll(m, "-", "_") != b.machineArch {
			continue
		}
		for _, tc := range r.Tests {
			tests[tc.Name] = tc
		}
	}
	for _, tc := range tests {
		res := result.Result{Benchmark: testPrefix + tc.Name, Metric: result.Status}
		switch tc.Outcome {
		case TestSkipped:
			continue
		case TestPassed:
			res.Samples = []float64{result.Pass}
		case TestFailed:
			res.Samples, res.Note = []float64{result.Fail}, tc.Status
			if t := tail(tc.Log, logTail, false); t != "" {
				res.Note += ":\n" + t
			}
		}
		b.add(res)
	}
	return nil
}

// readLAMP reads tcbot-lamp.txt when the LAMP benchmark ran: its
// throughput, and a status that fails when any request failed (a LAMP
// stack that drops requests is broken, whatever its throughput).
func (b *build) readLAMP() error {
	p := filepath.Join(b.dir, LAMPFile)
	if !exists(p) {
		return nil
	}
	name, data, err := readFile(p)
	if err != nil {
		return err
	}
	l, err := ParseLAMP(name, data)
	if err != nil {
		return err
	}
	status := result.Result{Benchmark: LAMPBenchmark, Metric: result.Status, Samples: []float64{result.Pass}}
	if l.Errors > 0 {
		status.Samples, status.Note = []float64{result.Fail}, fmt.Sprintf("%d of %d requests failed", l.Errors, l.Requests)
	}
	b.add(status)
	b.add(result.Result{Benchmark: LAMPBenchmark, Metric: RequestsPerSecond, Samples: []float64{l.RequestsPerSecond}})
	return nil
}
