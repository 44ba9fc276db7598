package toolchain

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/tcbot/tcbot/bot/config"
)

func TestParseManifest(t *testing.T) {
	const where = "toolchain@0123456789ab:tcbot-toolchain.yaml"
	tests := []struct {
		name string
		yaml string
		want map[string]Entry
		err  []string
	}{
		{
			name: "both arches",
			yaml: "armv7: {cc: arm-linux-gnueabihf-gcc, cflags: \"-O2 -mthumb\"}\narmv8:\n  cc: aarch64-linux-gnu-gcc\n  cflags: -O3\n  ldflags: -Wl,--gc-sections\n",
			want: map[string]Entry{
				"armv7": {CC: "arm-linux-gnueabihf-gcc", CFlags: "-O2 -mthumb"},
				"armv8": {CC: "aarch64-linux-gnu-gcc", CFlags: "-O3", LDFlags: "-Wl,--gc-sections"},
			},
		},
		{
			name: "one arch",
			yaml: "armv8: {cc: aarch64-linux-gnu-gcc}\n",
			want: map[string]Entry{"armv8": {CC: "aarch64-linux-gnu-gcc"}},
		},
		{
			name: "empty file",
			yaml: "",
			want: map[string]Entry{},
		},
		{
			name: "unknown arch",
			yaml: "armv8: {cc: aarch64-linux-gnu-gcc}\nriscv64: {cc: riscv64-linux-gnu-gcc}\n",
			err:  []string{"riscv64", "unknown arch", "want armv7 or armv8"},
		},
		{
			name: "missing cc",
			yaml: "armv7: {cflags: -O2}\n",
			err:  []string{"armv7.cc", "missing compiler"},
		},
		{
			name: "unknown key",
			yaml: "armv8: {cc: aarch64-linux-gnu-gcc, cflag: -O2}\n",
			err:  []string{"cflag", "want e.g. armv8: {cc:"},
		},
		{
			name: "not a mapping",
			yaml: "- armv8\n",
			err:  []string{"want e.g. armv8: {cc:"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseManifest(where, []byte(tt.yaml))
			if tt.err != nil {
				if err == nil {
					t.Fatalf("ParseManifest = %v, want an error", got)
				}
				if !strings.HasPrefix(err.Error(), where+": ") {
					t.Errorf("error does not start with the file %s: %v", where, err)
				}
				for _, w := range tt.err {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseManifest = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// files is a fake Source: sha -> path -> content.
type files map[string]map[string]string

func (f files) ReadFile(sha, path string) ([]byte, bool, error) {
	c, ok := f[sha]
	if !ok {
		return nil, false, errors.New("repo toolchain: commit " + sha + " not in the mirror")
	}
	s, ok := c[path]
	return []byte(s), ok, nil
}

// noSource fails a test that reads the repository when it must not.
type noSource struct{ t *testing.T }

func (s noSource) ReadFile(sha, path string) ([]byte, bool, error) {
	s.t.Errorf("ReadFile(%s, %s) called", sha, path)
	return nil, false, errors.New("no source")
}

const (
	sha1 = "1111111111111111111111111111111111111111"
	sha2 = "2222222222222222222222222222222222222222"
	sha3 = "3333333333333333333333333333333333333333"
	sha4 = "4444444444444444444444444444444444444444"
	sha5 = "5555555555555555555555555555555555555555"
)

func needCC(t *testing.T, cc string) {
	t.Helper()
	if _, err := exec.LookPath(cc); err != nil {
		t.Skipf("%s not installed", cc)
	}
}

var idRE = regexp.MustCompile(`^[0-9a-f]{16}$`)

func TestResolveManifest(t *testing.T) {
	needCC(t, "aarch64-linux-gnu-gcc")
	needCC(t, "arm-linux-gnueabihf-gcc")
	ctx := context.Background()
	repo := &config.Repo{Name: "toolchain", Toolchain: "manifest"}
	src := files{
		sha1: {ManifestFile: "armv8: {cc: aarch64-linux-gnu-gcc, cflags: \"-O2  -g0\"}\narmv7: {cc: arm-linux-gnueabihf-gcc, cflags: -O2}\n"},
		// The same manifest at another revision.
		sha2: {ManifestFile: "armv8: {cc: aarch64-linux-gnu-gcc, cflags: \"-O2  -g0\"}\narmv7: {cc: arm-linux-gnueabihf-gcc, cflags: -O2}\n"},
		sha3: {ManifestFile: "armv8: {cc: aarch64-linux-gnu-gcc, cflags: \"-O3 -g0\"}\n"},
		sha4: {ManifestFile: "armv8: {cc: aarch64-linux-gnu-gcc, cflags: \"-O2 -g0\", ldflags: \"-Wl,--gc-sections\"}\n"},
		sha5: {ManifestFile: "armv8: {cc: arm-linux-gnueabihf-gcc, cflags: \"-O2 -g0\"}\n"},
	}
	var r Resolver
	resolve := func(t *testing.T, sha, arch string) *Toolchain {
		t.Helper()
		tc, err := r.Resolve(ctx, repo, src, sha, arch)
		if err != nil {
			t.Fatalf("Resolve(%s, %s): %v", sha[:4], arch, err)
		}
		return tc
	}

	tc := resolve(t, sha1, "armv8")
	if tc.Arch != "armv8" || tc.CC != "aarch64-linux-gnu-gcc" || tc.InTree {
		t.Errorf("toolchain = %+v", tc)
	}
	if !reflect.DeepEqual(tc.CFlags, []string{"-O2", "-g0"}) || len(tc.LDFlags) != 0 {
		t.Errorf("flags %q / %q, want [-O2 -g0] / []", tc.CFlags, tc.LDFlags)
	}
	if !idRE.MatchString(tc.ID) {
		t.Errorf("ID = %q, want 16 hex digits", tc.ID)
	}
	// The driver is run by its real path (the Debian name is a symlink to
	// aarch64-linux-gnu-gcc-12), which is the name it prints.
	driver, err := exec.LookPath("aarch64-linux-gnu-gcc")
	if err != nil {
		t.Fatal(err)
	}
	if real, err := filepath.EvalSymlinks(driver); err == nil {
		driver = real
	}
	version, err := exec.Command(driver, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	firstLine := strings.SplitN(string(version), "\n", 2)[0]
	if want := firstLine + ", -O2 -g0"; tc.Desc != want {
		t.Errorf("Desc = %q, want %q", tc.Desc, want)
	}

	tests := []struct {
		name      string
		sha, arch string
		same      bool
	}{
		{"same revision again", sha1, "armv8", true},
		{"another revision, same manifest", sha2, "armv8", true},
		{"other cflags", sha3, "armv8", false},
		{"other ldflags", sha4, "armv8", false},
		{"other compiler, same flags", sha5, "armv8", false},
		{"other arch", sha1, "armv7", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := resolve(t, tt.sha, tt.arch)
			if same := got.ID == tc.ID; same != tt.same {
				t.Errorf("ID %s vs %s: same = %v, want %v", got.ID, tc.ID, same, tt.same)
			}
		})
	}

	// A fresh Resolver (a new tcbot process) gives the same identity.
	var fresh Resolver
	again, err := fresh.Resolve(ctx, repo, src, sha1, "armv8")
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != tc.ID {
		t.Errorf("ID in a new process %s, want %s", again.ID, tc.ID)
	}
}

func TestResolveManifestErrors(t *testing.T) {
	ctx := context.Background()
	repo := &config.Repo{Name: "toolchain", Toolchain: "manifest"}
	src := files{
		sha1: {"README": "no manifest here"},
		sha2: {ManifestFile: "armv8: {cc: aarch64-linux-gnu-gcc}\n"},
		sha3: {ManifestFile: "armv8: {cc: tcbot-no-such-gcc-13, cflags: -O2}\n"},
		sha4: {ManifestFile: "armv8: {cc: aarch64-linux-gnu-gcc, flags: -O2}\n"},
	}
	tests := []struct {
		name      string
		sha, arch string
		want      []string
	}{
		{"no manifest in the revision", sha1, "armv8", []string{"toolchain@111111111111:tcbot-toolchain.yaml", "not found", "toolchain: host"}},
		{"no entry for the arch", sha2, "armv7", []string{"toolchain@222222222222:tcbot-toolchain.yaml", "no entry for arch armv7", "add armv7: {cc: arm-linux-gnueabihf-gcc"}},
		{"compiler not installed", sha3, "armv8", []string{"tcbot-no-such-gcc-13", "not found in PATH", "install", "make deps", "armv8", "toolchain@333333333333"}},
		{"bad manifest", sha4, "armv8", []string{"toolchain@444444444444:tcbot-toolchain.yaml", "flags"}},
		{"revision the source does not have", sha5, "armv8", []string{"555555555555", "not in the mirror"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Resolver
			tc, err := r.Resolve(ctx, repo, src, tt.sha, tt.arch)
			if err == nil {
				t.Fatalf("Resolve = %+v, want an error", tc)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestResolveKinds(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		kind string
		want string
	}{
		// build registers itself from bot/toolchain/build (tested there);
		// the kinds of this package are listed for an unknown one.
		{"prebuilt", `unknown toolchain kind "prebuilt" (known: host, manifest`},
	} {
		t.Run(tt.kind, func(t *testing.T) {
			var r Resolver
			_, err := r.Resolve(ctx, &config.Repo{Name: "gcc", Toolchain: tt.kind}, noSource{t}, sha1, "armv8")
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "gcc") {
				t.Errorf("error = %v, want one naming repo gcc and saying %q", err, tt.want)
			}
		})
	}
}

func TestResolveHost(t *testing.T) {
	needCC(t, "aarch64-linux-gnu-gcc")
	ctx := context.Background()
	repo := &config.Repo{Name: "linux", Toolchain: "host", Host: map[string]config.Compiler{
		"armv8": {CC: "aarch64-linux-gnu-gcc", CFlags: "-O2 -g0"},
	}}
	var r Resolver
	// The repository is never read for toolchain: host.
	tc, err := r.Resolve(ctx, repo, noSource{t}, sha1, "armv8")
	if err != nil {
		t.Fatal(err)
	}
	if tc.CC != "aarch64-linux-gnu-gcc" || !reflect.DeepEqual(tc.CFlags, []string{"-O2", "-g0"}) || tc.InTree || !idRE.MatchString(tc.ID) {
		t.Errorf("toolchain = %+v", tc)
	}
	// The revision is not part of a host toolchain's identity.
	tc2, err := r.Resolve(ctx, repo, noSource{t}, sha2, "armv8")
	if err != nil || tc2.ID != tc.ID {
		t.Errorf("ID at another revision = %v (%v), want %s", tc2, err, tc.ID)
	}
	// The same compiler and flags named by a manifest are the same
	// toolchain.
	man := files{sha1: {ManifestFile: "armv8: {cc: aarch64-linux-gnu-gcc, cflags: -O2 -g0}\n"}}
	tc3, err := r.Resolve(ctx, &config.Repo{Name: "toolchain", Toolchain: "manifest"}, man, sha1, "armv8")
	if err != nil || tc3.ID != tc.ID {
		t.Errorf("manifest with the same compiler and flags: %+v (%v), want ID %s", tc3, err, tc.ID)
	}

	_, err = r.Resolve(ctx, repo, noSource{t}, sha1, "armv7")
	if err == nil || !strings.Contains(err.Error(), "linux") || !strings.Contains(err.Error(), "armv7") {
		t.Errorf("host without armv7: %v, want an error naming repo and arch", err)
	}

	rel := &config.Repo{Name: "linux", Toolchain: "host", Host: map[string]config.Compiler{"armv8": {CC: "tools/bin/gcc"}}}
	_, err = r.Resolve(ctx, rel, noSource{t}, sha1, "armv8")
	if err == nil || !strings.Contains(err.Error(), "must be a command name or an absolute path") {
		t.Errorf("host compiler with a relative path: %v", err)
	}
}

func TestResolveHostAbsolutePath(t *testing.T) {
	needCC(t, "aarch64-linux-gnu-gcc")
	abs, err := exec.LookPath("aarch64-linux-gnu-gcc")
	if err != nil {
		t.Fatal(err)
	}
	repo := &config.Repo{Name: "linux", Toolchain: "host", Host: map[string]config.Compiler{"armv8": {CC: abs}}}
	var r Resolver
	tc, err := r.Resolve(context.Background(), repo, noSource{t}, sha1, "armv8")
	if err != nil {
		t.Fatal(err)
	}
	if tc.CC != abs || tc.InTree {
		t.Errorf("toolchain = %+v, want CC %s not in tree", tc, abs)
	}
}

func TestResolveInTree(t *testing.T) {
	ctx := context.Background()
	repo := &config.Repo{Name: "toolchain", Toolchain: "manifest"}
	const manifest = "armv8: {cc: prebuilt/bin/aarch64-linux-gnu-gcc, cflags: -O2}\n"
	src := files{
		sha1: {ManifestFile: manifest},
		sha2: {ManifestFile: manifest},
		sha3: {ManifestFile: "armv8: {cc: ./gcc, cflags: -O2}\n"},
	}
	var r Resolver
	// The compiler is in the tree, not on the PATH: Resolve must not look
	// for it there.
	t1, err := r.Resolve(ctx, repo, src, sha1, "armv8")
	if err != nil {
		t.Fatal(err)
	}
	if !t1.InTree || t1.CC != "prebuilt/bin/aarch64-linux-gnu-gcc" || !idRE.MatchString(t1.ID) {
		t.Errorf("toolchain = %+v, want InTree with CC as written", t1)
	}
	if want := "prebuilt/bin/aarch64-linux-gnu-gcc (in tree at 111111111111), -O2"; t1.Desc != want {
		t.Errorf("Desc = %q, want %q", t1.Desc, want)
	}
	again, err := r.Resolve(ctx, repo, src, sha1, "armv8")
	if err != nil || again.ID != t1.ID {
		t.Errorf("same revision again: %v (%v), want ID %s", again, err, t1.ID)
	}
	t2, err := r.Resolve(ctx, repo, src, sha2, "armv8")
	if err != nil {
		t.Fatal(err)
	}
	if t2.ID == t1.ID {
		t.Errorf("in-tree compiler at two revisions has one ID %s: the tree may have changed the compiler", t1.ID)
	}
	t3, err := r.Resolve(ctx, repo, src, sha3, "armv8")
	if err != nil || !t3.InTree {
		t.Errorf("./gcc: %+v (%v), want InTree", t3, err)
	}
}

// fakeCC writes a shell-script compiler named cc into dir. It prints
// version for --version and names cc1 (a file in dir) for
// -print-prog-name=cc1.
func fakeCC(t *testing.T, dir, cc, version string) {
	t.Helper()
	script := "#!/bin/sh\ncase \"$1\" in\n--version) echo '" + version + "'; echo 'Copyright';;\n-print-prog-name=cc1) echo '" + filepath.Join(dir, "cc1") + "';;\nesac\n"
	if err := os.WriteFile(filepath.Join(dir, cc), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestCompilerIdentity(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	fakeCC(t, dir, "tcbot-fake-gcc", "tcbot-fake-gcc (Fake) 13.1.0")
	cc1 := filepath.Join(dir, "cc1")
	if err := os.WriteFile(cc1, []byte("cc1 version one"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	repo := &config.Repo{Name: "linux", Toolchain: "host", Host: map[string]config.Compiler{"armv8": {CC: "tcbot-fake-gcc", CFlags: "-O2"}}}
	id := func(r *Resolver) *Toolchain {
		t.Helper()
		tc, err := r.Resolve(ctx, repo, noSource{t}, sha1, "armv8")
		if err != nil {
			t.Fatal(err)
		}
		return tc
	}
	var first Resolver
	base := id(&first)
	if base.Desc != "tcbot-fake-gcc (Fake) 13.1.0, -O2" {
		t.Errorf("Desc = %q, want the version line and flags", base.Desc)
	}
	if again := id(new(Resolver)); again.ID != base.ID {
		t.Fatalf("unchanged compiler: ID %s then %s", base.ID, again.ID)
	}

	tests := []struct {
		name   string
		change func(t *testing.T)
	}{
		{"new version of the driver", func(t *testing.T) { fakeCC(t, dir, "tcbot-fake-gcc", "tcbot-fake-gcc (Fake) 13.2.0") }},
		{"new compiler proper (cc1) behind the same driver", func(t *testing.T) {
			if err := os.WriteFile(cc1, []byte("cc1 version two, longer"), 0o755); err != nil {
				t.Fatal(err)
			}
		}},
	}
	prev := base.ID
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.change(t)
			got := id(new(Resolver))
			if got.ID == prev {
				t.Errorf("ID %s did not change", got.ID)
			}
			prev = got.ID
		})
	}
	// Within one process identities are cached: the first Resolver still
	// answers what it saw.
	if cached := id(&first); cached.ID != base.ID {
		t.Errorf("cached ID %s, want %s", cached.ID, base.ID)
	}
}

func TestCompilerThatFailsVersion(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	if err := os.WriteFile(filepath.Join(dir, "tcbot-broken-gcc"), []byte("#!/bin/sh\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	repo := &config.Repo{Name: "linux", Toolchain: "host", Host: map[string]config.Compiler{"armv7": {CC: "tcbot-broken-gcc"}}}
	var r Resolver
	_, err := r.Resolve(context.Background(), repo, noSource{t}, sha1, "armv7")
	if err == nil || !strings.Contains(err.Error(), "tcbot-broken-gcc --version") {
		t.Errorf("error = %v, want one saying tcbot-broken-gcc --version failed", err)
	}
}

// tcbot-toolchain.yaml comes from the repository under test: ParseManifest
// must never panic, and what it accepts names a known arch and a compiler.
func FuzzParseManifest(f *testing.F) {
	f.Add([]byte("armv8: {cc: aarch64-linux-gnu-gcc, cflags: -O2}\n"))
	f.Add([]byte("armv7: {cflags: -O2}\n"))
	f.Add([]byte("riscv: {cc: gcc}\n"))
	f.Add([]byte("- a\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		const where = "toolchain@abc:tcbot-toolchain.yaml"
		m, err := ParseManifest(where, data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), where) {
				t.Errorf("error does not start with the file: %v", err)
			}
			return
		}
		for arch, e := range m {
			if _, ok := config.Arches[arch]; !ok || e.CC == "" {
				t.Errorf("accepted %s: %+v", arch, e)
			}
		}
	})
}
