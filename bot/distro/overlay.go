package distro

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tcbot/tcbot/bot/kernel"
)

// Triplet is the GNU triplet of Debian's multiarch library directory
// (/usr/lib/<triplet>) for a tcbot arch.
func Triplet(arch string) (string, error) {
	switch arch {
	case "armv8":
		return "aarch64-linux-gnu", nil
	case "armv7":
		return "arm-linux-gnueabihf", nil
	}
	return "", fmt.Errorf("arch %q: want armv7 or armv8", arch)
}

// LibraryOverlay is a C library built from a revision, laid over the
// image's own copy for one boot: Dir holds the files to lay over the
// image's root (executor.QEMUSystem.Overlay); the image itself is never
// written.
type LibraryOverlay struct {
	Dir string
	// Replaced are the image's files the build replaces (paths in the
	// image); Kept, the package's shared objects the build does not have
	// (they stay the image's).
	Replaced, Kept []string
}

// PackageFiles lists the files Debian package pkg installed in the image
// (dpkg's list, read from the ext4 image with debugfs: nothing is
// mounted).
func PackageFiles(ctx context.Context, img *Image, pkg string) ([]string, error) {
	deb, err := DebArch(img.Arch)
	if err != nil {
		return nil, err
	}
	for _, name := range []string{pkg + ":" + deb + ".list", pkg + ".list"} {
		cmd := exec.CommandContext(ctx, "debugfs", "-R", "cat /var/lib/dpkg/info/"+name, img.Path)
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("read %s's file list from %s with debugfs (e2fsprogs): %v: %s", pkg, img.Path, err, strings.TrimSpace(errb.String()))
		}
		// debugfs exits 0 when the file is missing and says so on stderr.
		if out.Len() == 0 {
			continue
		}
		var files []string
		for _, l := range strings.Split(out.String(), "\n") {
			if l = strings.TrimSpace(l); l != "" && l != "/." {
				files = append(files, l)
			}
		}
		return files, nil
	}
	return nil, fmt.Errorf("image %s has no /var/lib/dpkg/info/%s:%s.list (nor %s.list): is Debian package %s installed in it for %s?", img.Path, pkg, deb, pkg, pkg, deb)
}

// MakeLibraryOverlay lays the C library installed into install (make
// install DESTDIR=install with --prefix=/usr and its libraries in usr/lib,
// as tcbot's glibc toolchain recipe builds it) over the files of the
// image's package pkg (libc6): each file the package installed in
// Debian's multiarch directory (/lib/<triplet> or /usr/lib/<triplet>,
// the dynamic loader included) is replaced by the built file of the same
// name under install/usr/lib, and the built library's own gconv modules
// go where it looks for them (/usr/lib/gconv). dir must not exist; it is
// made.
func MakeLibraryOverlay(ctx context.Context, img *Image, pkg, install, dir string) (*LibraryOverlay, error) {
	triplet, err := Triplet(img.Arch)
	if err != nil {
		return nil, err
	}
	files, err := PackageFiles(ctx, img, pkg)
	if err != nil {
		return nil, err
	}
	lib := filepath.Join(install, "usr", "lib")
	if _, err := os.Stat(filepath.Join(lib, "libc.so.6")); err != nil {
		return nil, fmt.Errorf("the built C library has no usr/lib/libc.so.6 in %s (installed with DESTDIR and --prefix=/usr?)", install)
	}
	ov := &LibraryOverlay{Dir: dir}
	to := filepath.Join(dir, "usr", "lib", triplet)
	loader := false
	for _, f := range files {
		rel, ok := strings.CutPrefix(f, "/lib/"+triplet+"/")
		if !ok {
			rel, ok = strings.CutPrefix(f, "/usr/lib/"+triplet+"/")
		}
		if !ok || rel == "" || strings.HasPrefix(rel, "gconv/") {
			continue
		}
		src := filepath.Join(lib, rel)
		info, err := os.Stat(src) // a symlink in the build: its target
		switch {
		case err != nil && strings.Contains(rel, ".so"):
			ov.Kept = append(ov.Kept, f)
			continue
		case err != nil || !info.Mode().IsRegular():
			continue
		}
		if err := copyRegular(src, filepath.Join(to, rel), info.Mode().Perm()); err != nil {
			return nil, err
		}
		ov.Replaced = append(ov.Replaced, "/usr/lib/"+triplet+"/"+rel)
		loader = loader || strings.HasPrefix(filepath.Base(rel), "ld-linux")
	}
	if len(ov.Replaced) == 0 || !loader {
		return nil, fmt.Errorf("the built C library in %s replaces %d of package %s's files in the image and not its dynamic loader: is %s built for %s?", install, len(ov.Replaced), pkg, install, img.Arch)
	}
	gconv := filepath.Join(lib, "gconv")
	if _, err := os.Stat(gconv); err == nil {
		err := filepath.WalkDir(gconv, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			info, err := os.Stat(p)
			if err != nil || !info.Mode().IsRegular() {
				return err
			}
			rel, _ := filepath.Rel(lib, p)
			return copyRegular(p, filepath.Join(dir, "usr", "lib", rel), info.Mode().Perm())
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(ov.Replaced)
	sort.Strings(ov.Kept)
	return ov, nil
}

// copyRegular copies the regular file src to dst (its directories made)
// with mode.
func copyRegular(src, dst string, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := kernel.CopyFile(src, dst); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}
