package config

import (
	"fmt"
	"strings"
)

// badFunc records a problem at a line of the config, naming its key.
type badFunc = func(line int, key, format string, args ...any)

// executorKeys is what the config knows of one executor kind (a target's
// executor: key): the defaults of its targets, and the checks of the keys
// it owns, on its own targets and on every other (where they have no
// place). Making the executor from these keys is bot/target's table.
type executorKeys struct {
	name     string
	defaults func(c *Config, t *Target)                    // runs before the defaults of every target
	check    func(c *Config, i int, t Target, bad badFunc) // a target of this kind
	refuse   func(c *Config, i int, t Target, bad badFunc) // a target of another kind
}

// executorKinds are the executors a target may name, one line each; the
// keys of each are in the file named for it.
var executorKinds = []executorKeys{
	{name: "qemu-user", defaults: qemuUserDefaults},
	{name: "qemu-system", defaults: (*Config).qemuSystemDefaults, check: (*Config).validateQEMUSystem, refuse: (*Config).refuseQEMUSystem},
	{name: "ssh", defaults: boardDefaults, check: (*Config).validateSSH, refuse: (*Config).refuseSSH},
	{name: "lava", defaults: boardDefaults, check: (*Config).validateLAVA, refuse: (*Config).refuseLAVA},
}

func executorKindOf(name string) *executorKeys {
	for i := range executorKinds {
		if executorKinds[i].name == name {
			return &executorKinds[i]
		}
	}
	return nil
}

// executorNames lists the executors for messages: "a, b, c or d".
func executorNames() string {
	var names []string
	for _, k := range executorKinds {
		names = append(names, k.name)
	}
	return orList(names)
}

// orList joins names as "a, b, c or d".
func orList(names []string) string {
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// validateExecutorKeys checks the executor keys of target i: its own
// kind's, and that no other kind's are there.
func (c *Config) validateExecutorKeys(i int, t Target, bad badFunc) {
	for _, k := range executorKinds {
		switch {
		case k.name == t.Executor && k.check != nil:
			k.check(c, i, t, bad)
		case k.name != t.Executor && k.refuse != nil:
			k.refuse(c, i, t, bad)
		}
	}
}

// qemuUserDefaults: exact instruction counts are the verdict; the host's
// times under emulation only inform.
func qemuUserDefaults(_ *Config, t *Target) {
	if t.Informational == nil {
		t.Informational = []string{"time", "compile-time"}
	}
}

// boardDefaults are those of a target on real boards (ssh, lava): board
// timings need ~10 samples a side for the false-discovery control to find
// anything.
func boardDefaults(_ *Config, t *Target) {
	if t.Samples == 0 {
		t.Samples = 10
	}
	if t.Informational == nil {
		t.Informational = []string{"compile-time"}
	}
}

// validateSSH checks the ssh section of target i.
func (c *Config) validateSSH(i int, t Target, bad badFunc) {
	key := func(k string) string { return fmt.Sprintf("targets[%d].%s", i, k) }
	if t.SSH == nil {
		bad(c.line("targets", i, "executor"), key("ssh"), "missing: an ssh target needs ssh: {host, user, key_file, known_hosts}")
		return
	}
	for k, v := range map[string]string{"host": t.SSH.Host, "user": t.SSH.User, "key_file": t.SSH.KeyFile, "known_hosts": t.SSH.KnownHosts} {
		if v == "" {
			bad(c.line("targets", i, "ssh"), key("ssh."+k), "missing (host keys are always checked: known_hosts is required; ssh-keyscan the board into it)")
		}
	}
}

func (c *Config) refuseSSH(i int, t Target, bad badFunc) {
	if t.SSH != nil {
		bad(c.line("targets", i, "ssh"), fmt.Sprintf("targets[%d].ssh", i), "only for executor: ssh")
	}
}
