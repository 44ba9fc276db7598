package executor

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// The overlay's own directory is not an entry (its 0700 would become the
// image root's mode); its subdirectories, files and symlinks keep theirs.
func TestOverlayFiles(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o700)
	os.MkdirAll(filepath.Join(dir, "root", ".ssh"), 0o700)
	os.WriteFile(filepath.Join(dir, "root", ".ssh", "authorized_keys"), []byte("key"), 0o600)
	os.MkdirAll(filepath.Join(dir, "usr", "lib"), 0o755)
	os.Symlink("libc.so.6", filepath.Join(dir, "usr", "lib", "libc.so"))
	fs, err := overlayFiles(dir, "/overlay")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]os.FileMode{}
	for _, f := range fs {
		got[f.Path] = f.Mode
	}
	want := map[string]os.FileMode{
		"/overlay/root":                      fsDir | 0o700,
		"/overlay/root/.ssh":                 fsDir | 0o700,
		"/overlay/root/.ssh/authorized_keys": 0o600,
		"/overlay/usr":                       fsDir | 0o755,
		"/overlay/usr/lib":                   fsDir | 0o755,
		"/overlay/usr/lib/libc.so":           os.ModeSymlink | 0o777,
	}
	if len(got) != len(want) {
		t.Errorf("entries %v, want %v", got, want)
	}
	for p, m := range want {
		if got[p] != m {
			t.Errorf("%s: mode %v, want %v", p, got[p], m)
		}
	}
}

const fsDir = fs.ModeDir
