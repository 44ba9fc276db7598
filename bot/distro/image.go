package distro

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tcbot/tcbot/bot/executor"
	"github.com/tcbot/tcbot/bot/kernel"
)

// Builder builds and caches images.
type Builder struct {
	// Dir is where images are kept (workdir/distro): one directory per
	// arch and key, and the private apt lists versions are resolved with.
	Dir string
	// Kernel boots the image's first boot: an Image or zImage for the
	// arch with virtio-mmio block, ext4 and what Debian's userspace needs
	// built in (the distro-lamp recipe's kernel). Busybox and KernelCache
	// are as for executor.QEMUSystem.
	Kernel, Busybox, KernelCache string
	// FirstBoot forces the unprivileged way (package configuration in the
	// booted guest) even where binfmt_misc could be used.
	FirstBoot bool
	// Log receives progress lines; ConsoleLog the first boot's console.
	Log        func(format string, a ...any)
	ConsoleLog io.Writer
}

func (b *Builder) logf(format string, a ...any) {
	if b.Log != nil {
		b.Log(format, a...)
	}
}

// baseInclude are installed beside the spec's packages: the Essential
// set and apt (mmdebstrap's variant apt).
var baseInclude = []string{"?essential", "apt"}

// Key resolves the image's packages and returns its key: a hash of the
// spec, the guest files and the "name=version" of every package.
func (b *Builder) Key(ctx context.Context, spec Spec, arch string) (string, []string, error) {
	debArch, err := DebArch(arch)
	if err != nil {
		return "", nil, err
	}
	sh := sha256.Sum256([]byte(strings.Join(spec.Sources, "\n")))
	pkgs, err := kernel.ResolvePackages(ctx, filepath.Join(b.Dir, "apt-"+hex.EncodeToString(sh[:])[:12]), debArch, spec.Sources, append(append([]string{}, baseInclude...), spec.Packages...))
	if err != nil {
		return "", nil, fmt.Errorf("resolve the image's packages: %w", err)
	}
	h := sha256.New()
	js, _ := json.Marshal(spec)
	fmt.Fprintf(h, "%s\n%s\n%s\n%s\n", debArch, js, appHash(), imageFormat)
	for _, p := range pkgs {
		fmt.Fprintln(h, p)
	}
	// The packages configured in the guest make a different system than
	// configured under qemu-user (not the same bytes, not the same
	// instruction counts): another image.
	if b.method(ctx, debArch) == "first-boot" {
		fmt.Fprintln(h, "configured at the first boot")
	}
	return hex.EncodeToString(h.Sum(nil)), pkgs, nil
}

// method is how the image's packages will be configured: binfmt (under
// qemu-user on the host, which needs root or Arm binaries running
// already) or first-boot (in the guest).
func (b *Builder) method(ctx context.Context, debArch string) string {
	if b.FirstBoot || (os.Geteuid() != 0 && !canExec(ctx, debArch)) {
		return "first-boot"
	}
	return "binfmt"
}

// imageFormat changes when how an image is made changes.
const imageFormat = "1"

// Ensure returns the image of spec for arch, building it if no image of
// the same key is cached.
func (b *Builder) Ensure(ctx context.Context, spec Spec, arch string) (*Image, error) {
	key, pkgs, err := b.Key(ctx, spec, arch)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(b.Dir, arch+"-"+key[:16])
	if img, ok := readImage(dir); ok {
		img.Cached = true
		return img, nil
	}
	if err := os.MkdirAll(b.Dir, 0o755); err != nil {
		return nil, err
	}
	unlock, err := kernel.LockFile(ctx, filepath.Join(b.Dir, arch+".lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	if img, ok := readImage(dir); ok { // built by another tcbot meanwhile
		img.Cached = true
		return img, nil
	}
	return b.build(ctx, spec, arch, key, pkgs, dir)
}

// Bootstrap runs the long first half of an image's build, mmdebstrap,
// which needs no kernel, so that it can run while the kernel for the
// image's first boot builds; Ensure then starts from its output. Nothing
// is done when the image or its bootstrap is there already.
func (b *Builder) Bootstrap(ctx context.Context, spec Spec, arch string) error {
	key, pkgs, err := b.Key(ctx, spec, arch)
	if err != nil {
		return err
	}
	dir := filepath.Join(b.Dir, arch+"-"+key[:16])
	if _, ok := readImage(dir); ok {
		return nil
	}
	if err := os.MkdirAll(b.Dir, 0o755); err != nil {
		return err
	}
	unlock, err := kernel.LockFile(ctx, filepath.Join(b.Dir, arch+".lock"))
	if err != nil {
		return err
	}
	defer unlock()
	if _, ok := readImage(dir); ok {
		return nil
	}
	_, _, _, err = b.bootstrap(ctx, spec, arch, pkgs, dir)
	return err
}

// removeUnmounted removes dir unless something is mounted below it (an
// mmdebstrap killed before it could unmount its chroot's /proc or /dev):
// then it is left, and said.
func (b *Builder) removeUnmounted(dir string) error {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
				err := fmt.Errorf("%s is still mounted (a killed mmdebstrap's chroot): unmount it, then remove %s", f[4], dir)
				b.logf("distro: %v", err)
				return err
			}
		}
	}
	return os.RemoveAll(dir)
}

// bootstrap makes (or finds, from an earlier attempt) mmdebstrap's output
// for the image in dir: dir.METHOD.ext2, kept until the image is done so
// that a failed first boot does not cost the bootstrap again; secs is how
// long mmdebstrap took (when it ran, kept+".s" records it).
func (b *Builder) bootstrap(ctx context.Context, spec Spec, arch string, pkgs []string, dir string) (kept, method string, secs float64, err error) {
	debArch, _ := DebArch(arch)
	keptOf := func(method string) string { return dir + "." + method + ".ext2" }
	method = "binfmt"
	if b.FirstBoot {
		method = "first-boot"
	}
	reuse := func(kept string) (float64, bool) {
		if _, err := os.Stat(kept); err != nil {
			return 0, false
		}
		data, _ := os.ReadFile(kept + ".s")
		secs, _ := strconv.ParseFloat(strings.TrimSpace(string(data)), 64)
		b.logf("distro %s: reusing the bootstrap made before (%s, %.0fs)", arch, kept, secs)
		return secs, true
	}
	if secs, ok := reuse(keptOf(method)); ok {
		return keptOf(method), method, secs, nil
	}
	tmp := dir + ".boot-" + strconv.Itoa(os.Getpid())
	if err := b.removeUnmounted(tmp); err != nil {
		return "", "", 0, err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return "", "", 0, err
	}
	defer b.removeUnmounted(tmp)
	app, err := appTar()
	if err != nil {
		return "", "", 0, err
	}
	appPath := filepath.Join(tmp, "app.tar")
	if err := os.WriteFile(appPath, app, 0o644); err != nil {
		return "", "", 0, err
	}
	var undo func() error
	if !b.FirstBoot {
		undo, err = enableForeign(ctx, debArch)
		if errors.Is(err, errNeedsRoot) {
			method, err = "first-boot", nil
		}
		if err != nil {
			return "", "", 0, err
		}
	}
	kept = keptOf(method)
	if secs, ok := reuse(kept); ok {
		if undo != nil {
			undo()
		}
		return kept, method, secs, nil
	}
	ext2 := filepath.Join(tmp, "rootfs.ext2")
	// The application goes in with the last hooks the variant runs:
	// customize hooks (variant apt), or extract hooks (variant extract
	// runs no customize hooks).
	hook := "--customize-hook="
	if method != "binfmt" {
		hook = "--extract-hook="
	}
	argv := []string{"mmdebstrap", "--arch=" + debArch, "--format=ext2", "--include=" + strings.Join(append(append([]string{}, baseInclude[1:]...), spec.Packages...), ","),
		hook + "tar-in " + appPath + " /",
		// No manuals or documentation (fewer files to unpack and
		// configure under emulation); the copyright files stay.
		"--dpkgopt=path-exclude=/usr/share/man/*", "--dpkgopt=path-exclude=/usr/share/info/*",
		"--dpkgopt=path-exclude=/usr/share/doc/*", "--dpkgopt=path-include=/usr/share/doc/*/copyright"}
	if method == "binfmt" {
		argv = append(argv, "--variant=apt", "--customize-hook=chroot \"$1\" /usr/local/share/tcbot/configure.sh")
		if os.Geteuid() == 0 {
			argv = append(argv, "--mode=root")
		}
	} else {
		// Unpacked only, the .debs kept for the first boot to install.
		script := filepath.Join(tmp, "unconfigured.sh")
		text := `set -e
cd "$1"
: >var/lib/tcbot-essential
for d in var/cache/apt/archives/*.deb; do
	e=$(dpkg-deb -f "$d" Essential)
	[ "$e" = yes ] && echo "/$d" >>var/lib/tcbot-essential
done
touch var/lib/tcbot-unconfigured
# No maintainer script may start a service while the first boot
# configures the packages (as mmdebstrap's chroot does): a daemon left
# running keeps the root file system busy. Removed at the first boot's end.
printf '#!/bin/sh\nexit 101\n' >usr/sbin/policy-rc.d
chmod 755 usr/sbin/policy-rc.d
touch var/lib/tcbot-policy-rc.d
`
		if err := os.WriteFile(script, []byte(text), 0o755); err != nil {
			return "", "", 0, err
		}
		argv = append(argv, "--variant=extract", "--include=?essential", "--skip=check/qemu", "--skip=cleanup/apt/cache",
			"--extract-hook=sh "+script+" \"$1\"")
		if os.Geteuid() != 0 {
			argv = append(argv, "--mode=unshare")
		} else {
			argv = append(argv, "--mode=root")
		}
	}
	argv = append(argv, spec.Suite, ext2)
	argv = append(argv, spec.Sources...)
	start := time.Now()
	b.logf("distro %s: mmdebstrap (%s), %d packages", arch, method, len(pkgs))
	env := append(hostEnv(), "TMPDIR="+tmp)
	err = run(ctx, tmp, env, argv...)
	if undo != nil {
		if uerr := undo(); uerr != nil && err == nil {
			err = uerr
		}
	}
	if err != nil {
		return "", "", 0, fmt.Errorf("build the %s image: %w", arch, err)
	}
	secs = time.Since(start).Seconds()
	if err := os.WriteFile(kept+".s", []byte(strconv.FormatFloat(secs, 'f', 1, 64)+"\n"), 0o644); err != nil {
		return "", "", 0, err
	}
	if err := os.Rename(ext2, kept); err != nil {
		return "", "", 0, err
	}
	b.logf("distro %s: bootstrapped in %s", arch, time.Since(start).Round(time.Second))
	return kept, method, secs, nil
}

func (b *Builder) build(ctx context.Context, spec Spec, arch, key string, pkgs []string, dir string) (*Image, error) {
	kept, method, bootstrap, err := b.bootstrap(ctx, spec, arch, pkgs, dir)
	if err != nil {
		return nil, err
	}
	start := time.Now() // the rest, after the bootstrap
	tmp := dir + ".tmp-" + strconv.Itoa(os.Getpid())
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	ext2 := filepath.Join(tmp, "rootfs.ext2")
	if err := kernel.CopyFile(kept, ext2); err != nil {
		return nil, err
	}
	img := filepath.Join(tmp, "rootfs.img")
	if err := toExt4(ctx, ext2, img, spec.SizeMiB); err != nil {
		return nil, err
	}
	versions, err := b.firstBoot(ctx, arch, img, method)
	if err != nil {
		return nil, fmt.Errorf("the %s image's first boot: %w", arch, err)
	}
	if err := fsck(ctx, img); err != nil {
		return nil, fmt.Errorf("check the %s image after its first boot: %w", arch, err)
	}
	if err := os.Chmod(img, 0o444); err != nil {
		return nil, err
	}
	os.Remove(ext2)
	res := &Image{Path: filepath.Join(dir, "rootfs.img"), Arch: arch, Key: key, Packages: pkgs, Versions: versions, Method: method,
		BuildTime: bootstrap + time.Since(start).Seconds(), Bootstrap: bootstrap}
	data, _ := json.MarshalIndent(res, "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, "image.json"), data, 0o644); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return nil, err
	}
	os.Remove(kept)
	os.Remove(kept + ".s")
	b.logf("distro %s: image built in %.0fs (%s)", arch, res.BuildTime, res.Path)
	return res, nil
}

// toExt4 turns mmdebstrap's ext2 image into an ext4 image of sizeMiB
// (without root: tune2fs, e2fsck and resize2fs work on the file).
func toExt4(ctx context.Context, ext2, img string, sizeMiB int) error {
	if err := os.Rename(ext2, img); err != nil {
		return err
	}
	env := hostEnv()
	if err := run(ctx, "", env, "tune2fs", "-O", "extents,uninit_bg,dir_index,has_journal", img); err != nil {
		return err
	}
	if err := fsck(ctx, img, "-D"); err != nil {
		return err
	}
	if sizeMiB <= 0 {
		sizeMiB = 2048
	}
	st, err := os.Stat(img)
	if err != nil {
		return err
	}
	if want := int64(sizeMiB) << 20; st.Size() < want {
		if err := os.Truncate(img, want); err != nil {
			return err
		}
		if err := run(ctx, "", env, "resize2fs", img); err != nil {
			return err
		}
	}
	return nil
}

// fsck checks and repairs an image file: e2fsck -fy exits 1 when it
// fixed something (new features' fields after tune2fs, the orphan list of
// files a stopped service left open at the first boot's end) and 2 when
// a mounted system would need a reboot; only from 4 on is it an error.
func fsck(ctx context.Context, img string, extra ...string) error {
	cmd := exec.CommandContext(ctx, "e2fsck", append(append([]string{"-fy"}, extra...), img)...)
	cmd.Env = hostEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() >= 4 {
			return fmt.Errorf("e2fsck -fy %s: %v\n%s", img, err, out)
		}
	}
	return nil
}

// firstBoot boots the image writable with its first-boot script and
// returns the versions it recorded.
func (b *Builder) firstBoot(ctx context.Context, arch, img, method string) (map[string]string, error) {
	if b.Kernel == "" {
		return nil, errors.New("no kernel to boot the image with")
	}
	timeout := 30 * time.Minute
	if method == "first-boot" {
		timeout = 3 * time.Hour
	}
	q := &executor.QEMUSystem{Arch: arch, Kernel: b.Kernel, Busybox: b.Busybox, KernelCache: b.KernelCache,
		Disk: img, DiskWritable: true, Stage2: "/usr/local/share/tcbot/firstboot.sh",
		BootTimeout: timeout, RealTime: true, ConsoleLog: b.ConsoleLog}
	start := time.Now()
	b.logf("distro %s: first boot (%s)", arch, method)
	if err := q.Prepare(ctx); err != nil {
		return nil, err
	}
	defer q.Cleanup()
	// The versions, then the disk made clean: read-only when nothing
	// holds a file open for writing. When the packages were configured in
	// this boot, the shells that run it still execute the /bin/dash that
	// usrmerge's conversion deleted, and the root cannot go read-only:
	// everything is synced, and e2fsck (below) clears the orphan list.
	script := "cat " + VersionsFile + " && " +
		"if [ -e /var/lib/tcbot-policy-rc.d ]; then rm -f /usr/sbin/policy-rc.d /var/lib/tcbot-policy-rc.d; fi && sync && " +
		"{ mount -o remount,ro / 2>/dev/null || { sync; echo 'tcbot: the root stays writable; still running:' >&2; for p in /proc/[0-9]*; do readlink $p/exe; done | sort | uniq -c >&2; }; }"
	out, err := q.Run(ctx, executor.Spec{Name: "versions", Argv: []string{"/bin/sh", "-c", script}, Timeout: 5 * time.Minute})
	if err != nil {
		return nil, err
	}
	if out.ExitCode != 0 {
		return nil, fmt.Errorf("reading %s: exit %d: %s", VersionsFile, out.ExitCode, out.Stderr)
	}
	if len(out.Stderr) > 0 {
		b.logf("distro %s: %s", arch, strings.Join(strings.Fields(string(out.Stderr)), " "))
	}
	b.logf("distro %s: first boot done in %s", arch, time.Since(start).Round(time.Second))
	return versionsOf(string(out.Stdout)), nil
}
