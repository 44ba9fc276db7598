// Package distro builds the distribution scenario's system: a Debian root
// filesystem image per arch (bookworm, arm64 or armhf) holding Apache,
// PHP-FPM and MariaDB with a small PHP application backed by MariaDB
// (guest/), made from Debian's archive with mmdebstrap and cached in the
// workdir as a raw ext4 image keyed by the versions of every package in
// it.
//
// Package configuration runs the packages' own (Arm) maintainer scripts.
// Two ways, picked by what the host allows:
//
//   - binfmt: as root, tcbot mounts binfmt_misc when it is not mounted,
//     registers qemu-user-static for the arch when it is not registered,
//     lets mmdebstrap configure everything in a chroot, and unregisters
//     and unmounts what it added (the host is left as it was found).
//   - first-boot: as an ordinary user, mmdebstrap only downloads and
//     unpacks (variant extract, in a user namespace); the packages are
//     configured inside the booted guest, under qemu-system.
//
// Either way the image then boots once, writable, to create the
// application's database and check that its pages answer (first boot).
package distro

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

//go:embed guest
var guestFS embed.FS

// Files are the application's files and where they go in the image.
var guestFiles = map[string]struct {
	dst  string
	mode int64
}{
	"read.php":         {"/var/www/html/tcbot/read.php", 0o644},
	"write.php":        {"/var/www/html/tcbot/write.php", 0o644},
	"schema.sql":       {"/usr/local/share/tcbot/schema.sql", 0o644},
	"configure.sh":     {"/usr/local/share/tcbot/configure.sh", 0o755},
	"firstboot.sh":     {"/usr/local/share/tcbot/firstboot.sh", 0o755},
	"tcbot-lamp-start": {"/usr/local/sbin/tcbot-lamp-start", 0o755},
	"tcbot-lamp-stop":  {"/usr/local/sbin/tcbot-lamp-stop", 0o755},
	"90-tcbot.cnf":     {"/etc/mysql/mariadb.conf.d/90-tcbot.cnf", 0o644},
}

// StartCommand starts the LAMP stack in a booted image and waits until the
// read page answers; StopCommand stops it.
const (
	StartCommand = "/usr/local/sbin/tcbot-lamp-start"
	StopCommand  = "/usr/local/sbin/tcbot-lamp-stop"
	// ReadPage and WritePage are the application's pages.
	ReadPage  = "http://127.0.0.1/tcbot/read.php"
	WritePage = "http://127.0.0.1/tcbot/write.php"
	// PageOK is in the body of every page that worked.
	PageOK = "tcbot-ok"
	// VersionsFile lists, in the image, the versions of the kernel of its
	// first boot and of the LAMP packages ("name version" lines).
	VersionsFile = "/etc/tcbot-image"
)

// Spec is what goes into an image (a distro-lamp recipe's distro: key).
type Spec struct {
	// Suite is Debian's release (bookworm).
	Suite string `json:"suite"`
	// Sources are the apt source lines (one-line format) the image is
	// built from and versions are resolved against.
	Sources []string `json:"sources"`
	// Packages are installed with their dependencies, beside the
	// Essential ones and apt.
	Packages []string `json:"packages"`
	// SizeMiB is the image's size.
	SizeMiB int `json:"size_mib"`
}

// DebArch is Debian's name of a tcbot arch.
func DebArch(arch string) (string, error) {
	switch arch {
	case "armv8":
		return "arm64", nil
	case "armv7":
		return "armhf", nil
	}
	return "", fmt.Errorf("arch %q: want armv7 or armv8", arch)
}

// appHash covers the guest files: a change in them is a new image.
func appHash() string {
	h := sha256.New()
	var names []string
	for n := range guestFiles {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		data, _ := guestFS.ReadFile("guest/" + n)
		fmt.Fprintf(h, "%s %d %s\n", n, len(data), guestFiles[n].dst)
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// appTar is the guest files as a tar archive (for mmdebstrap's tar-in).
func appTar() ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	var names []string
	for n := range guestFiles {
		names = append(names, n)
	}
	sort.Strings(names)
	dirs := map[string]bool{}
	for _, n := range names {
		f := guestFiles[n]
		var parents []string
		for d := filepath.Dir(f.dst); d != "/" && !dirs[d]; d = filepath.Dir(d) {
			dirs[d] = true
			parents = append([]string{d}, parents...)
		}
		for _, d := range parents {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "." + d + "/", Mode: 0o755, ModTime: time.Unix(0, 0)}); err != nil {
				return nil, err
			}
		}
		data, err := guestFS.ReadFile("guest/" + n)
		if err != nil {
			return nil, err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "." + f.dst, Mode: f.mode, Size: int64(len(data)), ModTime: time.Unix(0, 0)}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Image is a built root filesystem image.
type Image struct {
	// Path is the raw ext4 image (read-only; boot it with a snapshot).
	Path string `json:"path"`
	Arch string `json:"arch"`
	// Key identifies what is in it: the spec, the guest files and every
	// package's version.
	Key string `json:"key"`
	// Packages are the "name=version" of every package in it.
	Packages []string `json:"packages"`
	// Versions are the versions of the LAMP packages, as the image's
	// first boot read them (VersionsFile).
	Versions map[string]string `json:"versions"`
	// Method is how packages were configured: binfmt or first-boot.
	Method string `json:"method"`
	// BuildTime is how long the build took (bootstrap and first boot);
	// Bootstrap, the mmdebstrap part.
	BuildTime float64 `json:"build_s"`
	Bootstrap float64 `json:"bootstrap_s"`
	// Cached says the image was there already (not stored).
	Cached bool `json:"-"`
}

// versionsOf parses VersionsFile's "name version" lines.
func versionsOf(data string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(data, "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			out[f[0]] = f[1]
		}
	}
	return out
}

func readImage(dir string) (*Image, bool) {
	data, err := os.ReadFile(filepath.Join(dir, "image.json"))
	if err != nil {
		return nil, false
	}
	var img Image
	if json.Unmarshal(data, &img) != nil {
		return nil, false
	}
	if _, err := os.Stat(img.Path); err != nil {
		return nil, false
	}
	return &img, true
}

// run runs a host tool with an exact environment, its output kept for
// errors (the last 3,000 bytes).
func run(ctx context.Context, dir string, env []string, argv ...string) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Cancelled, mmdebstrap gets SIGTERM first: it unmounts what it
	// mounted in its chroot before it exits.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = time.Minute
	if err := cmd.Run(); err != nil {
		msg := out.String()
		if len(msg) > 3000 {
			msg = "..." + msg[len(msg)-3000:]
		}
		if errors.Is(err, exec.ErrNotFound) {
			return fmt.Errorf("%s not found: install it (make deps)", argv[0])
		}
		return fmt.Errorf("%s: %w\n%s", strings.Join(argv, " "), err, msg)
	}
	return nil
}

func hostEnv() []string {
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive"}
	for _, k := range []string{"HOME", "TMPDIR", "http_proxy", "https_proxy", "no_proxy"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

var _ fs.FS = guestFS
