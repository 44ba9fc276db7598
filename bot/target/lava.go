package target

import (
	"fmt"
	"os"
	"text/template"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/executor"
	lavalab "github.com/tcbot/tcbot/bot/lava"
)

// lava runs the benchmarks as jobs of a LAVA lab, one job per round.
type lava struct{}

// CanRun: the API token is there, in the file or environment variable
// the config names (as config.LoadSecrets read it).
func (lava) CanRun(t config.Target) error {
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
	return nil
}

// New makes the executor of a LAVA target. The token is the one
// config.LoadSecrets read from the file or environment variable the
// config names (LAVATarget.Token), here and nowhere else.
func (lava) New(t config.Target, env Env) (executor.Executor, error) {
	l := t.LAVA
	if l == nil {
		return nil, fmt.Errorf("target %s: executor lava needs a lava: section", t.Name)
	}
	var tmpl *template.Template
	if l.JobTemplate != "" {
		text, err := os.ReadFile(l.JobTemplate)
		if err != nil {
			return nil, fmt.Errorf("target %s: job_template: %w", t.Name, err)
		}
		if tmpl, err = lavalab.ParseTemplate(l.JobTemplate, string(text)); err != nil {
			return nil, fmt.Errorf("target %s: %w", t.Name, err)
		}
	}
	retries := lavalab.DefaultRetries
	if l.Retries != nil {
		retries = *l.Retries
		if retries == 0 {
			retries = -1 // the executor's "none"
		}
	}
	var log logrus.FieldLogger
	if env.Log != nil {
		log = env.Log.WithField("target", t.Name)
	}
	token, err := l.Token()
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", t.Name, err)
	}
	// Where the token came from, for the executor's messages.
	source := l.TokenEnv
	if l.TokenFile != "" {
		source = l.TokenFile
	}
	return &lavalab.Executor{
		Client:     &lavalab.Client{URL: l.URL, Token: token},
		TokenEnv:   source,
		DeviceType: l.DeviceType, Tags: l.Tags,
		Arch: t.Arch, CPU: t.CPU,
		Kernel: l.Kernel, KernelArgs: l.KernelArgs, Memory: l.Memory,
		Priority: l.Priority, Visibility: l.Visibility,
		Template: tmpl,
		// Debian's kernels and busybox (shared with qemu-system
		// targets) and the guest's timer.
		CacheDir:       kernelCache(env),
		CC:             config.Arches[t.Arch].CC,
		ArtifactListen: l.ArtifactListen, ArtifactURL: l.ArtifactURL,
		Files:       env.Files,
		Retries:     retries,
		BootTimeout: time.Duration(l.BootTimeout),
		JobName:     "tcbot " + t.Name,
		Log:         log,
	}, nil
}

func (lava) Traits() Traits { return Traits{OnBoard: true, Batched: true} }

// Machine: a lab's device type, tags and kernel are its machine.
func (lava) Machine(t config.Target) (string, string) {
	l := t.LAVA
	if l == nil {
		return "", ""
	}
	return fmt.Sprintf("|%s|%s|%q|%s|%s|%d", l.URL, l.DeviceType, l.Tags, l.Kernel, l.KernelArgs, l.Memory), ""
}
