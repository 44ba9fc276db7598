// Package kernel provides what booting an Arm Linux guest under
// qemu-system needs: Debian's arm64 and armmp kernels and static busybox,
// fetched as Debian packages and cached, and initramfs archives (cpio
// "newc", gzip) written in pure Go.
//
// Fetching uses apt with a private state directory under the cache (its
// own package lists and download cache, with the foreign architecture as
// apt's only one), so it changes nothing on the host: no `dpkg
// --add-architecture`, no lock on the system's apt lists, and it works for
// a user who is not root. Debian's mirror sometimes fails for a while;
// apt-get update is retried, then the lists already there are used.
//
// Everything is cached in cacheDir by package version: once a kernel or
// busybox is there, Debian and Busybox return it without running apt
// (delete the cache directory to fetch Debian's newest). Calls are safe
// from concurrent goroutines and processes sharing a cacheDir (a file
// lock serializes the apt work).
package kernel

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Arch is how tcbot boots one arch under qemu-system.
type Arch struct {
	// DebArch is Debian's name of the arch (arm64, armhf).
	DebArch string
	// Meta is the Debian metapackage of the kernel flavour
	// (linux-image-arm64, linux-image-armmp).
	Meta string
	// Format is the kernel file's format: Image (arm64, uncompressed) or
	// zImage (arm, self-decompressing).
	Format string
	// QEMU, Machine and CPU boot it: qemu-system-aarch64 -M virt -cpu
	// cortex-a57, or qemu-system-arm -M virt -cpu cortex-a15.
	QEMU, Machine, CPU string
	// Console is the serial console device (the virt machine's PL011).
	Console string
}

// Arches are the arches tcbot boots, by tcbot's arch names.
var Arches = map[string]Arch{
	"armv8": {DebArch: "arm64", Meta: "linux-image-arm64", Format: "Image",
		QEMU: "qemu-system-aarch64", Machine: "virt", CPU: "cortex-a57", Console: "ttyAMA0"},
	"armv7": {DebArch: "armhf", Meta: "linux-image-armmp", Format: "zImage",
		QEMU: "qemu-system-arm", Machine: "virt", CPU: "cortex-a15", Console: "ttyAMA0"},
}

// LookupArch returns how tcbot boots arch.
func LookupArch(arch string) (Arch, error) {
	a, ok := Arches[arch]
	if !ok {
		return Arch{}, fmt.Errorf("arch %q: want armv7 or armv8", arch)
	}
	return a, nil
}

// Image is a kernel ready to boot.
type Image struct {
	// Arch is tcbot's arch (armv7, armv8).
	Arch string
	// Path is the kernel file (Image or zImage).
	Path string
	// Version is the Debian package version ("6.1.176-1"), or what built
	// the kernel.
	Version string
	// Package is the Debian package it came from
	// ("linux-image-6.1.0-50-arm64").
	Package string
	// Format is Image or zImage.
	Format string
	// Size is the kernel file's size in bytes.
	Size int64
}

// cached is what the cache records for one package of one arch.
type cached struct {
	Package string `json:"package"`
	Version string `json:"version"`
	File    string `json:"file"` // relative to cacheDir
}

// Debian returns Debian's kernel for arch (armv8: linux-image-*-arm64, an
// uncompressed Image; armv7: linux-image-*-armmp, a zImage), fetching it
// into cacheDir the first time.
func Debian(ctx context.Context, cacheDir, arch string) (*Image, error) {
	a, err := LookupArch(arch)
	if err != nil {
		return nil, err
	}
	c, err := fetch(ctx, cacheDir, a.DebArch, "kernel", func(ctx context.Context, apt *apt) (string, error) {
		return apt.dependency(ctx, a.Meta, "linux-image-")
	}, func(name string) bool {
		return strings.HasPrefix(name, "./boot/vmlinuz-")
	}, a.Format)
	if err != nil {
		return nil, fmt.Errorf("debian kernel for %s: %w", arch, err)
	}
	p := filepath.Join(cacheDir, c.File)
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("debian kernel for %s: %w", arch, err)
	}
	return &Image{Arch: arch, Path: p, Version: c.Version, Package: c.Package, Format: a.Format, Size: st.Size()}, nil
}

// Busybox returns the path of Debian's static busybox for arch (from
// busybox-static), fetching it into cacheDir the first time.
func Busybox(ctx context.Context, cacheDir, arch string) (string, error) {
	a, err := LookupArch(arch)
	if err != nil {
		return "", err
	}
	c, err := fetch(ctx, cacheDir, a.DebArch, "busybox", func(context.Context, *apt) (string, error) {
		return "busybox-static", nil
	}, func(name string) bool {
		return name == "./bin/busybox"
	}, "busybox")
	if err != nil {
		return "", fmt.Errorf("busybox for %s: %w", arch, err)
	}
	return filepath.Join(cacheDir, c.File), nil
}

// fetch returns the cached file of kind for debArch, or resolves the
// package (resolve), downloads it, extracts the one file whose tar name
// match accepts, and caches it as <cacheDir>/<debArch>/<package>_<version>/<as>.
func fetch(ctx context.Context, cacheDir, debArch, kind string, resolve func(context.Context, *apt) (string, error), match func(string) bool, as string) (*cached, error) {
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, err
	}
	unlock, err := lockFile(ctx, filepath.Join(cacheDir, ".lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	index := filepath.Join(cacheDir, debArch, kind+".json")
	if c, ok := readCached(cacheDir, index); ok {
		return c, nil
	}
	a, err := newApt(cacheDir, debArch)
	if err != nil {
		return nil, err
	}
	if err := a.update(ctx); err != nil {
		return nil, err
	}
	pkg, err := resolve(ctx, a)
	if err != nil {
		return nil, err
	}
	version, err := a.version(ctx, pkg)
	if err != nil {
		return nil, err
	}
	rel := filepath.Join(debArch, pkg+"_"+strings.ReplaceAll(version, ":", "%3a"), as)
	c := &cached{Package: pkg, Version: version, File: rel}
	dst := filepath.Join(cacheDir, rel)
	if _, err := os.Stat(dst); err != nil {
		tmp, err := os.MkdirTemp(cacheDir, ".download-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		deb, err := a.download(ctx, tmp, pkg)
		if err != nil {
			return nil, err
		}
		if err := extract(ctx, deb, match, dst); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(deb), err)
		}
	}
	data, _ := json.MarshalIndent(c, "", "  ")
	if err := writeFileAtomic(index, data, 0o644); err != nil {
		return nil, err
	}
	return c, nil
}

func readCached(cacheDir, index string) (*cached, bool) {
	data, err := os.ReadFile(index)
	if err != nil {
		return nil, false
	}
	var c cached
	if json.Unmarshal(data, &c) != nil || c.File == "" {
		return nil, false
	}
	if _, err := os.Stat(filepath.Join(cacheDir, c.File)); err != nil {
		return nil, false
	}
	return &c, true
}

// extract copies the one file of the .deb's data whose tar name match
// accepts to dst (through a temporary file, so dst is whole or absent).
// Only that file is written: a kernel package's hundreds of megabytes of
// modules never touch the disk.
func extract(ctx context.Context, deb string, match func(string) bool, dst string) error {
	cmd := exec.CommandContext(ctx, "dpkg-deb", "--fsys-tarfile", deb)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("dpkg-deb: %w (install dpkg)", err)
	}
	found := false
	ferr := func() error {
		tr := tar.NewReader(out)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if h.Typeflag != tar.TypeReg || !match(h.Name) {
				continue
			}
			if found {
				return fmt.Errorf("more than one file matches (%s)", h.Name)
			}
			found = true
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			f, err := os.CreateTemp(filepath.Dir(dst), ".part-")
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				err = os.Chmod(f.Name(), os.FileMode(h.Mode).Perm()|0o444)
			}
			if err == nil {
				err = os.Rename(f.Name(), dst)
			}
			if err != nil {
				os.Remove(f.Name())
				return err
			}
		}
	}()
	// Drain so dpkg-deb is not stopped by a full pipe, then wait.
	_, _ = io.Copy(io.Discard, out)
	werr := cmd.Wait()
	switch {
	case ferr != nil:
		return ferr
	case werr != nil:
		return fmt.Errorf("dpkg-deb --fsys-tarfile: %w: %s", werr, strings.TrimSpace(stderr.String()))
	case !found:
		return errors.New("the package holds no such file")
	}
	return nil
}

// apt runs apt-get and apt-cache on a private state directory whose only
// architecture is debArch, with the host's sources.
type apt struct {
	debArch string
	dir     string
	opts    []string
	// check is a package the lists must know to be usable
	// (busybox-static when empty).
	check string
}

func newApt(cacheDir, debArch string) (*apt, error) {
	dir, err := filepath.Abs(filepath.Join(cacheDir, "apt", debArch))
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"lists/partial", "cache/archives/partial"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	status := filepath.Join(dir, "status")
	if _, err := os.Stat(status); err != nil {
		if err := os.WriteFile(status, nil, 0o644); err != nil {
			return nil, err
		}
	}
	opts := []string{
		"-o", "Dir::State::Lists=" + filepath.Join(dir, "lists"),
		"-o", "Dir::Cache=" + filepath.Join(dir, "cache"),
		"-o", "Dir::State::status=" + status,
		"-o", "APT::Architecture=" + debArch,
		"-o", "APT::Architectures::=" + debArch,
		// Only the Packages indexes: no translations, no AppStream.
		"-o", "Acquire::Languages=none",
		"-o", "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false",
		"-o", "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false",
		"-o", "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false",
		"-o", "Acquire::IndexTargets::deb::CNF::DefaultEnabled=false",
		"-o", "Acquire::Retries=3",
		"-q",
	}
	if os.Geteuid() == 0 {
		// apt's _apt sandbox user cannot write into a private directory
		// that root made; downloads run as root instead.
		opts = append(opts, "-o", "APT::Sandbox::User=root")
	}
	return &apt{debArch: debArch, dir: dir, opts: opts}, nil
}

func (a *apt) run(ctx context.Context, dir, tool string, args ...string) ([]byte, error) {
	argv := append(append([]string{}, a.opts...), args...)
	cmd := exec.CommandContext(ctx, tool, argv...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 2000 {
			msg = msg[len(msg)-2000:]
		}
		return stdout.Bytes(), fmt.Errorf("%s %s: %w: %s", tool, strings.Join(args, " "), err, msg)
	}
	return stdout.Bytes(), nil
}

// listsFresh is how long package lists are used before updating again.
const listsFresh = 6 * time.Hour

// update fetches the package lists (unless an update less than listsFresh
// ago did), retrying; when it keeps failing but lists from an earlier
// update are there, it carries on with those.
func (a *apt) update(ctx context.Context) error {
	stamp := filepath.Join(a.dir, "updated")
	if st, err := os.Stat(stamp); err == nil && time.Since(st.ModTime()) < listsFresh {
		return nil
	}
	var err error
	for i := 0; i < 3; i++ {
		if i > 0 {
			select {
			case <-time.After(time.Duration(i) * 2 * time.Second):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if _, err = a.run(ctx, "", "apt-get", "update"); err == nil {
			break
		}
		if errors.Is(err, exec.ErrNotFound) || ctx.Err() != nil {
			return err
		}
		// Some index files failed (one suite's "Mirror sync in
		// progress?", seen for armhf for hours), the rest are new:
		// retrying will not help.
		if strings.Contains(err.Error(), "Some index files failed to download") && a.usable(ctx) {
			break
		}
	}
	if err != nil && !a.usable(ctx) {
		return fmt.Errorf("apt-get update for %s failed and there are no usable package lists: %w", a.debArch, err)
	}
	return os.WriteFile(stamp, nil, 0o644)
}

// usable reports whether the package lists know the packages tcbot needs.
func (a *apt) usable(ctx context.Context) bool {
	pkg := a.check
	if pkg == "" {
		pkg = "busybox-static"
	}
	_, err := a.run(ctx, "", "apt-cache", "show", pkg)
	return err == nil
}

// dependency resolves a metapackage to the package it depends on whose
// name starts with prefix (linux-image-arm64 -> linux-image-6.1.0-50-arm64).
func (a *apt) dependency(ctx context.Context, meta, prefix string) (string, error) {
	out, err := a.run(ctx, "", "apt-cache", "depends", meta)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(out), "\n") {
		dep, ok := strings.CutPrefix(strings.TrimSpace(line), "Depends: ")
		if !ok {
			continue
		}
		dep = strings.Trim(dep, "<>")
		dep, _, _ = strings.Cut(dep, ":") // an arch qualifier
		if strings.HasPrefix(dep, prefix) {
			return dep, nil
		}
	}
	return "", fmt.Errorf("apt-cache depends %s names no %s* package:\n%s", meta, prefix, out)
}

// version is the candidate version of pkg.
func (a *apt) version(ctx context.Context, pkg string) (string, error) {
	out, err := a.run(ctx, "", "apt-cache", "show", "--no-all-versions", pkg)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "Version: "); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("apt-cache show %s: no Version", pkg)
}

// download fetches pkg's .deb into dir and returns its path.
func (a *apt) download(ctx context.Context, dir, pkg string) (string, error) {
	if _, err := a.run(ctx, dir, "apt-get", "download", pkg); err != nil {
		return "", err
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "*.deb"))
	if len(debs) != 1 {
		return "", fmt.Errorf("apt-get download %s left %d .deb files", pkg, len(debs))
	}
	return debs[0], nil
}

// LockFile takes an exclusive lock on path (flock), waiting for it as
// long as ctx allows; the returned function releases it.
func LockFile(ctx context.Context, p string) (func(), error) { return lockFile(ctx, p) }

// lockFile takes an exclusive lock on path (flock), waiting for it as
// long as ctx allows.
func lockFile(ctx context.Context, p string) (func(), error) {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", p, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("wait for %s (another tcbot is fetching): %w", p, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func writeFileAtomic(p string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// ResolvePackages resolves pkgs (names or apt patterns such as
// ?essential) with all their dependencies for debArch against the apt
// sources given (one-line "deb URI SUITE COMPONENT..." format), on a
// private package cache under cacheDir (its lists updated at most every
// six hours), and returns every package that would be installed as
// "name=version", sorted.
func ResolvePackages(ctx context.Context, cacheDir, debArch string, sources, pkgs []string) ([]string, error) {
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, err
	}
	list, err := filepath.Abs(filepath.Join(cacheDir, "sources.list"))
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(list, []byte(strings.Join(sources, "\n")+"\n"), 0o644); err != nil {
		return nil, err
	}
	a, err := newApt(cacheDir, debArch)
	if err != nil {
		return nil, err
	}
	a.opts = append(a.opts, "-o", "Dir::Etc::SourceList="+list, "-o", "Dir::Etc::SourceParts=/nonexistent")
	a.check = pkgs[len(pkgs)-1]
	if err := a.update(ctx); err != nil {
		return nil, err
	}
	out, err := a.run(ctx, "", "apt-get", append([]string{"install", "--simulate", "--no-install-recommends", "-o", "APT::Get::Show-Versions=false"}, pkgs...)...)
	if err != nil {
		return nil, err
	}
	// "Inst name (version suite [arch])"
	var res []string
	for _, line := range strings.Split(string(out), "\n") {
		rest, ok := strings.CutPrefix(line, "Inst ")
		if !ok {
			continue
		}
		name, ver, ok := strings.Cut(rest, " (")
		if !ok {
			continue
		}
		ver, _, _ = strings.Cut(ver, " ")
		res = append(res, name+"="+ver)
	}
	if len(res) == 0 {
		return nil, fmt.Errorf("apt-get install --simulate %s for %s installed nothing:\n%s", strings.Join(pkgs, " "), debArch, out)
	}
	sort.Strings(res)
	return res, nil
}

// CopyFile copies the file from to the file to (created or truncated); a
// failed copy leaves no partial file behind.
func CopyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(to)
		return err
	}
	return out.Close()
}
