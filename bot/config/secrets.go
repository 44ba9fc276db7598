package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// Secrets are the credentials a config names, read by LoadSecrets. They
// never come from the config itself: each is named by a file (NAME_file)
// or an environment variable (NAME_env).
type Secrets struct {
	GitHubToken   string
	WebhookSecret string
	// LAVATokens are the REST tokens of the lava targets, by target name.
	LAVATokens map[string]string
}

// maxSecretSize bounds a secret file: a token is a line.
const maxSecretSize = 64 << 10

// LoadSecrets reads the secrets the config names — github.token,
// github.webhook_secret and the lava.token of each LAVA target, each from
// its _file or its _env — and then removes every environment variable it
// read from this process's environment, so that no child process (a
// compiler, a build step, a benchmark) ever inherits one. Later reads go
// through what it returns (and, for LAVA targets, LAVATarget.Token).
//
// Call it once at start, before starting anything; later calls return the
// same Secrets. A secret whose variable is unset, or whose file does not
// exist on this host, is "": the caller decides whether it needs it (a
// worker host needs only the tokens of the targets it serves). A file that
// every user of the host may read, or that cannot be read, is an error
// naming the config file, the line and the key.
func (c *Config) LoadSecrets() (*Secrets, error) {
	if c.secrets != nil {
		return c.secrets, nil
	}
	s := &Secrets{LAVATokens: map[string]string{}}
	var errs []error
	var envs []string
	// read reads the secret of the keys name_file and name_env of the
	// mapping at path, whose key is prefix.
	read := func(value *string, file, env string, trim func(string) string, prefix string, path []any, name string) {
		if file != "" {
			v, err := readSecretFile(file)
			if err != nil {
				k := name + "_file"
				errs = append(errs, fmt.Errorf("%s:%d: %s.%s: %w", c.Path, c.line(append(path, k)...), prefix, k, err))
				return
			}
			*value = trim(v)
			return
		}
		if env != "" {
			*value = trim(os.Getenv(env))
			envs = append(envs, env)
		}
	}
	if g := c.GitHub; g != nil {
		read(&s.GitHubToken, g.TokenFile, g.TokenEnv, strings.TrimSpace, "github", []any{"github"}, "token")
		read(&s.WebhookSecret, g.WebhookSecretFile, g.WebhookSecretEnv, trimNewline, "github", []any{"github"}, "webhook_secret")
	}
	for i := range c.Targets {
		t := &c.Targets[i]
		if t.LAVA == nil {
			continue
		}
		var tok string
		read(&tok, t.LAVA.TokenFile, t.LAVA.TokenEnv, strings.TrimSpace, fmt.Sprintf("targets[%d].lava", i), []any{"targets", i, "lava"}, "token")
		s.LAVATokens[t.Name] = tok
		t.LAVA.token, t.LAVA.loaded = tok, true
	}
	for _, e := range envs {
		os.Unsetenv(e)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c.secrets = s
	return s, nil
}

func trimNewline(s string) string { return strings.TrimRight(s, "\r\n") }

// readSecretFile reads a secret from a file that only its owner (and
// group) may read: "" when the file does not exist.
func readSecretFile(path string) (string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	switch {
	case !fi.Mode().IsRegular():
		return "", fmt.Errorf("%s is not a file: name the file that holds the secret", path)
	case fi.Mode().Perm()&0o007 != 0:
		return "", fmt.Errorf("%s is open to every user of this host (mode %04o): chmod 600 %s", path, fi.Mode().Perm(), path)
	case fi.Size() > maxSecretSize:
		return "", fmt.Errorf("%s is %d bytes, too big for a secret: name the file that holds only the token", path, fi.Size())
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSecretSize))
	if err != nil {
		return "", err
	}
	return trimNewline(string(data)), nil
}

// Token is the lab's REST token: the one LoadSecrets read or, for a
// config whose secrets were never loaded (one built in code), read now
// from token_file or token_env. "" when there is none.
func (l *LAVATarget) Token() (string, error) {
	if l.loaded {
		return l.token, nil
	}
	if l.TokenFile != "" {
		v, err := readSecretFile(l.TokenFile)
		if err != nil {
			return "", fmt.Errorf("lava.token_file: %w", err)
		}
		return strings.TrimSpace(v), nil
	}
	if l.TokenEnv == "" {
		return "", nil
	}
	return strings.TrimSpace(os.Getenv(l.TokenEnv)), nil
}

// validateSecret checks the NAME_env and NAME_file keys of the mapping at
// path (github, or targets[i].lava), whose key is prefix: one of them,
// never both.
func (c *Config) validateSecret(bad func(line int, key, format string, args ...any), prefix string, path []any, name, env, file, what string, required bool) {
	ln := func(k string) int { return c.line(append(path[:len(path):len(path)], k)...) }
	envKey, fileKey := name+"_env", name+"_file"
	switch {
	case env != "" && file != "":
		bad(ln(fileKey), prefix+"."+fileKey, "%s and %s both name %s: keep one", envKey, fileKey, what)
	case env == "" && file == "" && required:
		bad(ln(envKey), prefix+"."+envKey, "missing: name the environment variable (%s) or the file (%s, mode 0600) that holds %s (secrets are never written in the config)", envKey, fileKey, what)
	case env != "" && !envNameRE.MatchString(env):
		// Not quoted: it may be the secret itself, pasted by mistake.
		bad(ln(envKey), prefix+"."+envKey, "not an environment variable name: name the variable that holds %s (the secret itself never goes in the config)", what)
	}
}

// secretSource says where a secret is read from, for messages.
func secretSource(file, env, fileKey, envKey string) string {
	switch {
	case file != "":
		return "the file " + file
	case env != "":
		return "the environment variable " + env
	}
	return envKey + " or " + fileKey + " (neither is set)"
}

// TokenSource says where the GitHub token is read from: "the file F" or
// "the environment variable V".
func (g *GitHub) TokenSource() string {
	return secretSource(g.TokenFile, g.TokenEnv, "github.token_file", "github.token_env")
}

// WebhookSecretSource says where the webhook secret is read from.
func (g *GitHub) WebhookSecretSource() string {
	return secretSource(g.WebhookSecretFile, g.WebhookSecretEnv, "github.webhook_secret_file", "github.webhook_secret_env")
}
