package measure

import (
	"fmt"
	"os"
	"os/exec"

	"github.com/tcbot/tcbot/bot/config"
)

// CanRun reports whether this host can run target t's executor, without
// running anything: the emulator is installed (qemu-user, qemu-system),
// the key and known_hosts files can be read (ssh), the API token is there
// (lava: in the file or environment variable the config names, as
// config.LoadSecrets read it). A `tcbot worker` refuses at start to serve
// a target it cannot run, rather than failing each of its jobs later.
func CanRun(t config.Target) error {
	switch t.Executor {
	case "qemu-user", "qemu-system":
		if _, err := exec.LookPath(t.QEMU); err != nil {
			pkg := "qemu-user"
			if t.Executor == "qemu-system" {
				pkg = "qemu-system-arm"
			}
			return fmt.Errorf("target %s: %s is not installed here (%v): install Debian's %s (deploy/install-deps.sh)", t.Name, t.QEMU, err, pkg)
		}
	case "ssh":
		if t.SSH == nil {
			return fmt.Errorf("target %s: executor ssh needs an ssh: section", t.Name)
		}
		for _, f := range []struct{ key, path string }{{"ssh.key_file", t.SSH.KeyFile}, {"ssh.known_hosts", t.SSH.KnownHosts}} {
			if f.path == "" {
				return fmt.Errorf("target %s: %s is not set", t.Name, f.key)
			}
			fh, err := os.Open(f.path)
			if err != nil {
				return fmt.Errorf("target %s: %s: %v: this host cannot reach the board without it", t.Name, f.key, err)
			}
			fh.Close()
		}
	case "lava":
		if t.LAVA == nil {
			return fmt.Errorf("target %s: executor lava needs a lava: section", t.Name)
		}
		tok, err := t.LAVA.Token()
		switch {
		case err != nil:
			return fmt.Errorf("target %s: %v", t.Name, err)
		case tok == "" && t.LAVA.TokenFile != "":
			return fmt.Errorf("target %s: lava.token_file: %s, which should hold the lab's API token, is missing or empty here: write the token there (chmod 600)", t.Name, t.LAVA.TokenFile)
		case tok == "":
			return fmt.Errorf("target %s: lava.token_env: the environment variable %q holding the lab's API token is empty here: export it", t.Name, t.LAVA.TokenEnv)
		}
	default:
		return fmt.Errorf("target %s: executor %q is not implemented", t.Name, t.Executor)
	}
	return nil
}
