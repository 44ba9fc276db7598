package target

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcbot/tcbot/bot/config"
)

func TestCanRun(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "id_ed25519")
	known := filepath.Join(dir, "known_hosts")
	os.WriteFile(key, []byte("key"), 0o600)
	os.WriteFile(known, []byte("board ssh-ed25519 AAAA"), 0o644)
	t.Setenv("TCBOT_CANRUN_TOKEN", "t0ken")
	t.Setenv("TCBOT_CANRUN_EMPTY", "")
	tests := []struct {
		name   string
		target config.Target
		want   string // "" = usable; else a word the refusal must contain
	}{
		{"qemu-user present", config.Target{Name: "a", Executor: "qemu-user", QEMU: "qemu-aarch64"}, ""},
		{"qemu-user missing", config.Target{Name: "a", Executor: "qemu-user", QEMU: "/nonexistent/qemu-aarch64"}, "install Debian's qemu-user"},
		{"qemu-system missing", config.Target{Name: "a", Executor: "qemu-system", QEMU: "qemu-system-nonexistent"}, "qemu-system-arm"},
		{"ssh usable", config.Target{Name: "b", Executor: "ssh", SSH: &config.SSHTarget{KeyFile: key, KnownHosts: known}}, ""},
		{"ssh key missing", config.Target{Name: "b", Executor: "ssh", SSH: &config.SSHTarget{KeyFile: key + ".gone", KnownHosts: known}}, "ssh.key_file"},
		{"ssh known_hosts missing", config.Target{Name: "b", Executor: "ssh", SSH: &config.SSHTarget{KeyFile: key, KnownHosts: known + ".gone"}}, "ssh.known_hosts"},
		{"lava token set", config.Target{Name: "c", Executor: "lava", LAVA: &config.LAVATarget{TokenEnv: "TCBOT_CANRUN_TOKEN"}}, ""},
		{"lava token empty", config.Target{Name: "c", Executor: "lava", LAVA: &config.LAVATarget{TokenEnv: "TCBOT_CANRUN_EMPTY"}}, "TCBOT_CANRUN_EMPTY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CanRun(tt.target)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("CanRun = %v, want usable", err)
			case tt.want != "" && err == nil:
				t.Errorf("CanRun = nil, want a refusal mentioning %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Errorf("CanRun = %v, want it to mention %q", err, tt.want)
			case err != nil && strings.Contains(err.Error(), "t0ken"):
				t.Errorf("CanRun leaked the token: %v", err)
			}
			if err != nil && !strings.Contains(err.Error(), "target "+tt.target.Name) {
				t.Errorf("refusal %q does not name the target", err)
			}
		})
	}
}
