package distro

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// ext4Image makes a small ext4 image holding files (path -> content) with
// mke2fs -d, the way the real image holds dpkg's lists.
func ext4Image(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, data := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	img := filepath.Join(t.TempDir(), "rootfs.img")
	if out, err := exec.Command("mke2fs", "-q", "-t", "ext4", "-d", root, img, "8M").CombinedOutput(); err != nil {
		t.Fatalf("mke2fs: %v: %s", err, out)
	}
	return img
}

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, data := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(data, "->") {
			if err := os.Symlink(strings.TrimPrefix(data, "->"), full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(full, []byte(data), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLibraryOverlayReplacesThePackagesFiles: the built library replaces
// exactly the files Debian's libc6 installed in the multiarch directory
// (both the /lib and /usr/lib spellings of dpkg's list, a built symlink
// followed), keeps what the build lacks, leaves other files alone, and
// puts the built gconv modules where the built library looks.
func TestLibraryOverlayReplacesThePackagesFiles(t *testing.T) {
	list := strings.Join([]string{"/.", "/lib", "/lib/aarch64-linux-gnu",
		"/lib/aarch64-linux-gnu/libc.so.6", "/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1",
		"/lib/ld-linux-aarch64.so.1", "/usr/lib/aarch64-linux-gnu/libm.so.6",
		"/usr/lib/aarch64-linux-gnu/gconv/UTF-16.so", "/lib/aarch64-linux-gnu/libcrypt-like.so.1",
		"/usr/share/doc/libc6/copyright"}, "\n") + "\n"
	img := &Image{Arch: "armv8", Path: ext4Image(t, map[string]string{
		"var/lib/dpkg/info/libc6:arm64.list": list,
		"var/lib/dpkg/info/apache2.list":     "/usr/sbin/apache2\n",
	})}
	install := t.TempDir()
	writeTree(t, install, map[string]string{
		"usr/lib/libc.so.6":              "built libc",
		"usr/lib/ld-linux-aarch64.so.1":  "built loader",
		"usr/lib/libm.so.6":              "->libm-2.36.so",
		"usr/lib/libm-2.36.so":           "built libm",
		"usr/lib/gconv/UTF-16.so":        "built gconv",
		"usr/lib/gconv/gconv-modules":    "module list",
		"usr/include/stdio.h":            "header",
		"usr/share/doc/libc6/copyright":  "not a library",
		"usr/lib/libnotindebian.so.1":    "not in the package",
		"usr/lib/aarch64-linux-gnu/junk": "wrong layout",
	})
	dir := filepath.Join(t.TempDir(), "overlay")
	ov, err := MakeLibraryOverlay(context.Background(), img, "libc6", install, dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1", "/usr/lib/aarch64-linux-gnu/libc.so.6", "/usr/lib/aarch64-linux-gnu/libm.so.6"}
	if !reflect.DeepEqual(ov.Replaced, want) {
		t.Errorf("replaced %q, want %q", ov.Replaced, want)
	}
	if !reflect.DeepEqual(ov.Kept, []string{"/lib/aarch64-linux-gnu/libcrypt-like.so.1"}) {
		t.Errorf("kept %q", ov.Kept)
	}
	var got []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			data, _ := os.ReadFile(p)
			info, _ := os.Lstat(p)
			if !info.Mode().IsRegular() {
				t.Errorf("%s: not a regular file (%s)", rel, info.Mode())
			}
			got = append(got, rel+"="+string(data))
		}
		return nil
	})
	wantFiles := []string{
		"usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1=built loader",
		"usr/lib/aarch64-linux-gnu/libc.so.6=built libc",
		"usr/lib/aarch64-linux-gnu/libm.so.6=built libm",
		"usr/lib/gconv/UTF-16.so=built gconv",
		"usr/lib/gconv/gconv-modules=module list",
	}
	if !reflect.DeepEqual(got, wantFiles) {
		t.Errorf("overlay holds\n%q\nwant\n%q", got, wantFiles)
	}

	// What the image does not have, or the build lacks, is an error that
	// says so.
	if _, err := MakeLibraryOverlay(context.Background(), img, "libc6-missing", install, filepath.Join(t.TempDir(), "o")); err == nil || !strings.Contains(err.Error(), "libc6-missing") {
		t.Errorf("a package the image lacks: %v", err)
	}
	if _, err := MakeLibraryOverlay(context.Background(), img, "libc6", t.TempDir(), filepath.Join(t.TempDir(), "o")); err == nil || !strings.Contains(err.Error(), "libc.so.6") {
		t.Errorf("an install tree without libc.so.6: %v", err)
	}
	armhf := &Image{Arch: "armv7", Path: img.Path}
	if _, err := MakeLibraryOverlay(context.Background(), armhf, "libc6", install, filepath.Join(t.TempDir(), "o")); err == nil || !strings.Contains(err.Error(), "libc6:armhf.list") {
		t.Errorf("another arch's image: %v", err)
	}
}

// TestBootstrapIsReusedWithItsTime: the bootstrap made beside the kernel
// build (Builder.Bootstrap) is what the image build starts from, and the
// image's build time still counts mmdebstrap's.
func TestBootstrapIsReusedWithItsTime(t *testing.T) {
	b := &Builder{Dir: t.TempDir(), FirstBoot: true}
	dir := filepath.Join(b.Dir, "armv8-0123456789abcdef")
	if err := os.WriteFile(dir+".first-boot.ext2", []byte("ext2"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+".first-boot.ext2.s", []byte("612.5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	kept, method, secs, err := b.bootstrap(context.Background(), Spec{Suite: "bookworm"}, "armv8", nil, dir)
	if err != nil || kept != dir+".first-boot.ext2" || method != "first-boot" || secs != 612.5 {
		t.Errorf("bootstrap: %q %q %v %v: want the kept output, first-boot, 612.5 s", kept, method, secs, err)
	}
}

// TestRemoveUnmountedLeavesMounts: a directory with something mounted
// below it (as a killed mmdebstrap leaves its chroot) is not removed.
func TestRemoveUnmountedLeavesMounts(t *testing.T) {
	b := &Builder{}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644)
	if err := b.removeUnmounted(filepath.Join(dir)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s: not removed: %v", dir, err)
	}
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
	dir = t.TempDir()
	mnt := filepath.Join(dir, "proc")
	os.MkdirAll(mnt, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("mount: %v: %s", err, out)
	}
	defer exec.Command("umount", mnt).Run()
	os.WriteFile(filepath.Join(mnt, "keep"), []byte("x"), 0o644)
	if err := b.removeUnmounted(dir); err == nil || !strings.Contains(err.Error(), mnt+" is still mounted") {
		t.Errorf("err %v: want it to name the mount", err)
	}
	if _, err := os.Stat(filepath.Join(mnt, "keep")); err != nil {
		t.Errorf("a file below the mount was removed: %v", err)
	}
}
