package deploy

import (
	"bufio"
	"bytes"
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// exampleConfigs are the shipped configs: files, and the config inside the
// Kubernetes ConfigMap.
func exampleConfigs(t *testing.T) map[string][]byte {
	t.Helper()
	cfgs := map[string][]byte{
		"deploy/config/one-host.yaml":   readRepoFile(t, "deploy/config/one-host.yaml"),
		"deploy/config/many-hosts.yaml": readRepoFile(t, "deploy/config/many-hosts.yaml"),
	}
	m := loadManifests(t)
	cm := m.configMap(k8sConfigMap)
	if cm == nil {
		t.Fatalf("deploy/k8s: no ConfigMap %s", k8sConfigMap)
	}
	data, ok := cm.Data[k8sConfigKey]
	if !ok {
		t.Fatalf("deploy/k8s: ConfigMap %s has no key %s", k8sConfigMap, k8sConfigKey)
	}
	cfgs["deploy/k8s/configmap.yaml:"+k8sConfigKey] = []byte(data)
	return cfgs
}

// TestExampleConfigsPassConfigCheck runs `tcbot config check` on every
// shipped config and demands success: a config that the tcbot next to it
// rejects is a broken deployment.
func TestExampleConfigsPassConfigCheck(t *testing.T) {
	bin := tcbotBinary(t)
	for name, data := range exampleConfigs(t) {
		t.Run(filepath.Base(name), func(t *testing.T) {
			path := repoPath(name)
			if _, err := os.Stat(path); err != nil {
				// The ConfigMap's config: check a copy.
				path = filepath.Join(t.TempDir(), "tcbot.yaml")
				if err := os.WriteFile(path, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "config", "check", "--config", path)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("tcbot config check --config %s: %v\n%s%s", name, err, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), ": ok:") {
				t.Errorf("tcbot config check printed no verdict:\n%s", stdout.String())
			}
		})
	}
}

var envNameRE = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)

// secretEnv lists the environment variables a config needs for its
// secrets: every *_env key, and PGPASSWORD for a PostgreSQL database.
func secretEnv(t *testing.T, name string, data []byte) []string {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var out []string
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if strings.HasSuffix(k.Value, "_env") && v.Kind == yaml.ScalarNode {
					out = append(out, v.Value)
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&doc)
	var top struct {
		Database string `yaml:"database"`
	}
	if err := yaml.Unmarshal(data, &top); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if strings.HasPrefix(top.Database, "postgres://") {
		out = append(out, "PGPASSWORD")
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestExampleConfigsHoldNoSecrets: secrets are named by environment
// variable, never written in a config; a PostgreSQL DSN carries no
// password.
func TestExampleConfigsHoldNoSecrets(t *testing.T) {
	secretKey := regexp.MustCompile(`(?i)(token|password|passwd|secret|api_key)`)
	for name, data := range exampleConfigs(t) {
		t.Run(filepath.Base(name), func(t *testing.T) {
			var doc yaml.Node
			if err := yaml.Unmarshal(data, &doc); err != nil {
				t.Fatal(err)
			}
			var walk func(n *yaml.Node)
			walk = func(n *yaml.Node) {
				if n.Kind == yaml.MappingNode {
					for i := 0; i+1 < len(n.Content); i += 2 {
						k, v := n.Content[i], n.Content[i+1]
						switch {
						case strings.HasSuffix(k.Value, "_env"):
							if !envNameRE.MatchString(v.Value) {
								t.Errorf("%s:%d: %s: %q is not an environment variable name", name, v.Line, k.Value, v.Value)
							}
						case secretKey.MatchString(k.Value):
							t.Errorf("%s:%d: %s holds a secret inline; name an environment variable (%s_env) instead", name, k.Line, k.Value, k.Value)
						case k.Value == "database":
							u, err := url.Parse(v.Value)
							if err != nil {
								t.Errorf("%s:%d: database: %v", name, v.Line, err)
								break
							}
							if _, has := u.User.Password(); has {
								t.Errorf("%s:%d: database DSN holds a password: leave it out, the PostgreSQL client reads PGPASSWORD", name, v.Line)
							}
							if q := u.Query(); q.Has("password") {
								t.Errorf("%s:%d: database DSN holds a password parameter", name, v.Line)
							}
						}
					}
				}
				for _, c := range n.Content {
					walk(c)
				}
			}
			walk(&doc)
		})
	}
}

// TestSystemdSecretsFileNamesEverySecret: the EnvironmentFile example sets
// every variable the example configs name for secrets, and nothing is
// filled in.
func TestSystemdSecretsFileNamesEverySecret(t *testing.T) {
	const file = "deploy/systemd/secrets.env.example"
	set := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(readRepoFile(t, file)))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || !envNameRE.MatchString(k) {
			t.Errorf("%s:%d: %q is not KEY=value", file, n, line)
			continue
		}
		if v != "" {
			t.Errorf("%s:%d: %s has a value in the example; leave it empty", file, n, k)
		}
		set[k] = true
	}
	for _, name := range []string{"deploy/config/one-host.yaml", "deploy/config/many-hosts.yaml"} {
		for _, env := range secretEnv(t, name, readRepoFile(t, name)) {
			if !set[env] {
				t.Errorf("%s needs %s, which %s does not set", name, env, file)
			}
		}
	}
}
