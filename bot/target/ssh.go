package target

import (
	"fmt"
	"os"

	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/executor"
)

// ssh runs the benchmarks on a board reached over SSH.
type ssh struct{}

func (ssh) CanRun(t config.Target) error {
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
	return nil
}

func (ssh) New(t config.Target, env Env) (executor.Executor, error) {
	if t.SSH == nil {
		return nil, fmt.Errorf("target %s: executor ssh needs an ssh: section", t.Name)
	}
	return &executor.SSH{Host: t.SSH.Host, Port: t.SSH.Port, User: t.SSH.User, KeyFile: t.SSH.KeyFile, KnownHosts: t.SSH.KnownHosts,
		MaxLoad: t.SSH.MaxLoad, RunWrapper: t.RunWrapper, Files: env.Files}, nil
}

func (ssh) Traits() Traits { return Traits{OnBoard: true, Exclusive: true} }

func (ssh) Machine(config.Target) (string, string) { return "", "" }
