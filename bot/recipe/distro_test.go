package recipe

import (
	"strings"
	"testing"

	"github.com/tcbot/tcbot/recipes"
)

func TestDistroLAMPRecipe(t *testing.T) {
	r, err := Load(recipes.FS, "recipes", "distro-lamp")
	if err != nil {
		t.Fatal(err)
	}
	d := r.Distro
	if r.Kind != "distro-lamp" || d == nil || d.Suite != "bookworm" || r.Kernel == nil {
		t.Fatalf("kind %q distro %+v kernel %v", r.Kind, d, r.Kernel)
	}
	for _, p := range []string{"apache2", "php8.2-fpm", "php8.2-mysql", "mariadb-server"} {
		if !strings.Contains(strings.Join(d.Packages, " "), p) {
			t.Errorf("packages %v lack %s", d.Packages, p)
		}
	}
	for _, arch := range []string{"armv7", "armv8"} {
		frag := strings.Join(r.Kernel.Fragment[arch], " ")
		for _, opt := range []string{"CONFIG_VIRTIO_MMIO=y", "CONFIG_VIRTIO_BLK=y", "CONFIG_EXT4_FS=y", "CONFIG_INET=y", "CONFIG_EPOLL=y", "CONFIG_FILE_LOCKING=y", "CONFIG_CGROUPS=y", "CONFIG_NAMESPACES=y"} {
			if !strings.Contains(frag, opt) {
				t.Errorf("%s fragment lacks %s", arch, opt)
			}
		}
	}
}

func TestDistroLAMPRecipeErrorsNameTheKey(t *testing.T) {
	good, err := recipes.FS.ReadFile("distro-lamp.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, old, new, want string }{
		{"no distro section", "distro:\n  suite: bookworm", "other:\n  suite: bookworm", "field other not found"},
		{"no suite", "  suite: bookworm\n", "", "distro.suite"},
		{"a source that is not a deb line", "    - deb http://deb.debian.org/debian bookworm main\n", "    - http://deb.debian.org/debian\n", "distro.sources[0]"},
		{"a tiny image", "size_mib: 2048", "size_mib: 100", "distro.size_mib"},
		{"too little memory", "memory_mib: 1024", "memory_mib: 64", "distro.memory_mib"},
		{"a bad boot timeout", "boot_timeout: 15m", "boot_timeout: soon", "distro.boot_timeout"},
		{"an unknown page", "pages: [read, write]", "pages: [read, checkout]", "distro.load.pages"},
		{"no requests", "requests: 200", "requests: 0", "distro.load.requests"},
		{"no samples", "samples: 5", "samples: 0", "distro.load.samples"},
		{"an unknown metric", "metrics: [instructions-per-request,", "metrics: [insns-per-req,", "distro.metrics"},
		{"an informational metric not reported", "informational: [requests-per-second,", "informational: [time,", "distro.informational"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Replace(string(good), tc.old, tc.new, 1)
			if text == string(good) {
				t.Fatalf("%q is not in the recipe", tc.old)
			}
			_, err := Parse("recipes/distro-lamp.yaml", []byte(text))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "recipes/distro-lamp.yaml") {
				t.Errorf("err %v, want it to name the file and %q", err, tc.want)
			}
		})
	}
}
