package distro

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/target"
)

// TestLAVATargets: a LAVA lab's target is kept and boots the image with
// the kernel under test, under a measurement key of its own; a qemu-user
// target is not kept.
func TestLAVATargets(t *testing.T) {
	lab := config.Target{Name: "armv8-lab", Arch: "armv8", Executor: "lava", LAVA: &config.LAVATarget{URL: "http://127.0.0.1:8000/", DeviceType: "qemu"}}
	vm := config.Target{Name: "armv8-vm", Arch: "armv8", Executor: "qemu-system"}
	user := config.Target{Name: "armv8-qemu", Arch: "armv8", Executor: "qemu-user"}
	got, err := systemTargets("tcbot.yaml", "distro-lamp", []config.Target{lab, vm, user})
	if err != nil || len(got) != 2 || got[0].Name != "armv8-lab" || got[1].Name != "armv8-vm" {
		t.Fatalf("kept %v, %v: want the lab's and the qemu-system target", got, err)
	}
	if !booted(lab) || !inLAVA(lab) || inLAVA(vm) {
		t.Errorf("booted(lab) %t, inLAVA(lab) %t, inLAVA(vm) %t", booted(lab), inLAVA(lab), inLAVA(vm))
	}
	if target.ID(lab) == target.ID(vm) {
		t.Errorf("the lab and the qemu-system target share the key %s", target.ID(lab))
	}
	if _, err := systemTargets("tcbot.yaml", "distro-lamp", []config.Target{user}); err == nil || !strings.Contains(err.Error(), "qemu-system or lava") {
		t.Errorf("only qemu-user: %v", err)
	}
}

// TestCompressedImage: the image is compressed once, beside it, and
// decompresses to the same bytes (holes included); a newer image is
// compressed again.
func TestCompressedImage(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "rootfs.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("ext4 superblock"), 1024)
	f.WriteAt([]byte("the end"), 64<<20-7) // a 64 MiB sparse file
	f.Close()
	ctx := context.Background()
	out, err := CompressedImage(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(out)
	if out != img+".zst" || st.Size() > 1<<20 {
		t.Fatalf("%s, %d bytes: want rootfs.img.zst beside the image, small", out, st.Size())
	}
	check := func() {
		t.Helper()
		want, _ := os.ReadFile(img)
		z, _ := os.ReadFile(out)
		d, err := zstd.NewReader(nil)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		got, err := d.DecodeAll(z, nil)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("decompressed %d bytes (%v), want the image's %d", len(got), err, len(want))
		}
	}
	check()
	if again, err := CompressedImage(ctx, img); err != nil || again != out {
		t.Fatalf("again: %s, %v", again, err)
	}
	if st2, _ := os.Stat(out); !st2.ModTime().Equal(st.ModTime()) {
		t.Errorf("compressed again although the image did not change")
	}
	// A rebuilt image (newer) is compressed again.
	later := time.Now().Add(time.Minute)
	os.WriteFile(img, []byte("a new image"), 0o644)
	os.Chtimes(img, later, later)
	if _, err := CompressedImage(ctx, img); err != nil {
		t.Fatal(err)
	}
	check()
	if left, _ := filepath.Glob(filepath.Join(dir, "*.tmp-*")); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}
