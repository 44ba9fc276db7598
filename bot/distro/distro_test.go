package distro

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAppTarHoldsTheApplication(t *testing.T) {
	data, err := appTar()
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(data))
	got := map[string]*tar.Header{}
	body := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = h
		b, _ := io.ReadAll(tr)
		body[h.Name] = string(b)
	}
	for _, f := range guestFiles {
		h := got["."+f.dst]
		if h == nil {
			t.Errorf("%s missing from the archive", f.dst)
			continue
		}
		if h.Mode != f.mode {
			t.Errorf("%s: mode %o, want %o", f.dst, h.Mode, f.mode)
		}
		// Every parent directory comes before the file.
		for d := filepath.Dir(f.dst); d != "/"; d = filepath.Dir(d) {
			if got["."+d+"/"] == nil {
				t.Errorf("%s: no directory entry for %s", f.dst, d)
			}
		}
	}
	if !strings.Contains(body["./var/www/html/tcbot/read.php"], PageOK) || !strings.Contains(body["./var/www/html/tcbot/write.php"], PageOK) {
		t.Error("the pages do not print " + PageOK)
	}
	// The same bytes every time (the image key covers the files).
	again, _ := appTar()
	if !bytes.Equal(data, again) {
		t.Error("appTar is not deterministic")
	}
}

func TestVersionsOf(t *testing.T) {
	v := versionsOf("kernel-built-for-first-boot 6.1.0\napache2 2.4.62-1~deb12u2\nphp8.2-fpm 8.2.28-1~deb12u1\n\nbroken line here\n")
	if v["apache2"] != "2.4.62-1~deb12u2" || v["php8.2-fpm"] != "8.2.28-1~deb12u1" || len(v) != 3 {
		t.Errorf("versions %v", v)
	}
}

func TestDebArch(t *testing.T) {
	if a, _ := DebArch("armv8"); a != "arm64" {
		t.Error(a)
	}
	if a, _ := DebArch("armv7"); a != "armhf" {
		t.Error(a)
	}
	if _, err := DebArch("x86"); err == nil || !strings.Contains(err.Error(), "armv7 or armv8") {
		t.Errorf("err %v", err)
	}
}

// The image key follows the packages: the same spec gives the same key,
// another package list another, and the resolution names every package
// with its version (the Debian archive is reachable from every machine
// of this project).
func TestKeyFollowsThePackages(t *testing.T) {
	if testing.Short() {
		t.Skip("resolves packages against Debian's archive")
	}
	b := &Builder{Dir: t.TempDir()}
	spec := Spec{Suite: "bookworm", Sources: []string{"deb http://deb.debian.org/debian bookworm main"}, Packages: []string{"apache2"}, SizeMiB: 2048}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	k1, pkgs, err := b.Key(ctx, spec, "armv8")
	if err != nil {
		t.Fatal(err)
	}
	has := func(prefix string) bool {
		for _, p := range pkgs {
			if strings.HasPrefix(p, prefix) {
				return true
			}
		}
		return false
	}
	if !has("apache2=2.4.") || !has("libc6=2.36") || !has("dpkg=") || !has("apt=") {
		t.Errorf("resolved packages lack apache2, libc6, dpkg or apt: %d packages, %v...", len(pkgs), pkgs[:min(5, len(pkgs))])
	}
	k2, _, err := b.Key(ctx, spec, "armv8")
	if err != nil || k2 != k1 {
		t.Errorf("same spec, key %s then %s (%v)", k1, k2, err)
	}
	spec.Packages = append(spec.Packages, "curl")
	k3, pkgs3, err := b.Key(ctx, spec, "armv8")
	if err != nil || k3 == k1 || len(pkgs3) <= len(pkgs) {
		t.Errorf("with curl: key %s (was %s), %d packages (was %d), %v", k3, k1, len(pkgs3), len(pkgs), err)
	}
	k7, _, err := b.Key(ctx, spec, "armv7")
	if err != nil || k7 == k3 {
		t.Errorf("armv7 key %s equals armv8's (%v)", k7, err)
	}
	// Configured in the guest: another image (not the same bytes).
	fb := *b
	fb.FirstBoot = true
	if b.method(ctx, "arm64") == "first-boot" {
		t.Log("this user's images are all configured at the first boot: no other key to compare")
	} else if kf, _, err := fb.Key(ctx, spec, "armv8"); err != nil || kf == k3 {
		t.Errorf("the image configured at the first boot: key %s, as configured under qemu-user %s (%v)", kf, k3, err)
	}
	spec.Packages = []string{"no-such-package-tcbot"}
	if _, _, err := b.Key(ctx, spec, "armv8"); err == nil || !strings.Contains(err.Error(), "no-such-package-tcbot") {
		t.Errorf("unknown package: err %v", err)
	}
}

// As root, enableForeign registers qemu-user for an arch the host cannot
// run, and its undo leaves binfmt_misc exactly as it was: mounted or not,
// with the same entries.
func TestForeignExecutionLeavesTheHostAsFound(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (binfmt_misc)")
	}
	ctx := context.Background()
	var arches []string
	// armhf only: make test builds the arm64 image in bot/measure at the
	// same time, and that build relies on the arm64 registration it finds
	// or makes staying for its whole run.
	for _, a := range []string{"armhf"} {
		if _, err := os.Stat(qemuUser[a].interp); err == nil && !canExec(ctx, a) {
			arches = append(arches, a)
		}
	}
	if len(arches) == 0 {
		t.Skip("the host runs armhf and arm64 binaries already, or qemu-user-static is missing")
	}
	state := func() string {
		ms, _ := filepath.Glob(filepath.Join(binfmtDir, "*"))
		return strings.Join(ms, " ")
	}
	before := state()
	var undos []func() error
	for _, a := range arches {
		undo, err := enableForeign(ctx, a)
		if err != nil {
			for _, u := range undos {
				u()
			}
			t.Fatal(err)
		}
		undos = append(undos, undo)
		if !canExec(ctx, a) {
			t.Errorf("registered, but arch-test %s still fails", a)
		}
	}
	for i, undo := range undos {
		if err := undo(); err != nil {
			t.Fatal(err)
		}
		if canExec(ctx, arches[i]) {
			t.Errorf("after undo the host still runs %s binaries", arches[i])
		}
		for _, other := range arches[i+1:] {
			if !canExec(ctx, other) {
				t.Errorf("undoing %s stopped %s, whose build still runs", arches[i], other)
			}
		}
	}
	// (Only this test's own entry is compared: another build may come
	// and go meanwhile.)
	if strings.Contains(state(), qemuUser["armhf"].name) != strings.Contains(before, qemuUser["armhf"].name) {
		t.Errorf("binfmt_misc before: %q, after: %q", before, state())
	}
}
