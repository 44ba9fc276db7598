package config

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// secretsConfig is a config with GitHub and two LAVA targets; github and
// the lava sections take their keys from the arguments, which may end in a
// comment marking their line ("  #<").
func secretsConfig(github, lab1, lab2 string) string {
	var args []any
	for _, a := range []string{github, lab1, lab2} {
		keys, mark, _ := strings.Cut(a, "  #")
		if mark != "" {
			mark = "  #" + mark
		}
		args = append(args, keys, mark)
	}
	return fmt.Sprintf(`github: {%s}%s
repos: [{name: gcc, url: https://example.org/gcc.git, github: o/gcc}]
targets:
  - name: lab1
    arch: armv8
    executor: lava
    lava: {url: "https://lava.example.org/", device_type: qemu, %s}%s
  - name: lab2
    arch: armv7
    executor: lava
    lava: {url: "https://lava.example.org/", device_type: qemu, %s}%s
`, args...)
}

func writeSecret(t *testing.T, dir, name, text string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return p
}

func TestLoadSecrets(t *testing.T) {
	t.Setenv("TCBOT_T_GH_TOKEN", "ghp_fromenv")
	t.Setenv("TCBOT_T_LAB1", " lab1-token\n")
	path := writeConfig(t, secretsConfig("token_env: TCBOT_T_GH_TOKEN, webhook_secret_file: secrets/webhook",
		"token_env: TCBOT_T_LAB1", "token_file: secrets/lab2"))
	dir := filepath.Join(filepath.Dir(path), "secrets")
	os.Mkdir(dir, 0o700)
	writeSecret(t, dir, "webhook", "s3cret with spaces \n", 0o600)
	writeSecret(t, dir, "lab2", "lab2-token\r\n", 0o640)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.GitHub.WebhookSecretFile != filepath.Join(dir, "webhook") || c.Targets[1].LAVA.TokenFile != filepath.Join(dir, "lab2") {
		t.Errorf("secret files %q, %q: want them relative to the config", c.GitHub.WebhookSecretFile, c.Targets[1].LAVA.TokenFile)
	}
	s, err := c.LoadSecrets()
	if err != nil {
		t.Fatal(err)
	}
	want := Secrets{GitHubToken: "ghp_fromenv", WebhookSecret: "s3cret with spaces ", LAVATokens: map[string]string{"lab1": "lab1-token", "lab2": "lab2-token"}}
	if fmt.Sprint(*s) != fmt.Sprint(want) {
		t.Errorf("secrets %+v, want %+v", *s, want)
	}
	for _, v := range []string{"TCBOT_T_GH_TOKEN", "TCBOT_T_LAB1"} {
		if _, ok := os.LookupEnv(v); ok {
			t.Errorf("%s is still in the environment", v)
		}
	}
	out, err := exec.Command("env").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "fromenv") || strings.Contains(string(out), "lab1-token") {
		t.Errorf("a child process inherits a secret:\n%s", out)
	}
	// After the variables are gone, the tokens are still there.
	for i, want := range []string{"lab1-token", "lab2-token"} {
		if tok, err := c.Targets[i].LAVA.Token(); err != nil || tok != want {
			t.Errorf("%s: Token() = %q, %v; want %q", c.Targets[i].Name, tok, err, want)
		}
	}
	if again, err := c.LoadSecrets(); err != nil || again != s {
		t.Errorf("second LoadSecrets = %+v, %v; want the first one's", again, err)
	}
}

func TestLoadSecretsUnsetAndMissing(t *testing.T) {
	os.Unsetenv("TCBOT_T_UNSET")
	path := writeConfig(t, secretsConfig("token_file: /nonexistent/github-token, webhook_secret_env: TCBOT_T_UNSET",
		"token_env: TCBOT_T_UNSET", "token_file: /nonexistent/lab2"))
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.LoadSecrets()
	if err != nil {
		t.Fatalf("LoadSecrets: %v, want empty secrets: whoever needs one says so", err)
	}
	if s.GitHubToken != "" || s.WebhookSecret != "" || s.LAVATokens["lab1"] != "" || s.LAVATokens["lab2"] != "" {
		t.Errorf("secrets %+v, want all empty", s)
	}
}

func TestLoadSecretsRefusesOpenFiles(t *testing.T) {
	path := writeConfig(t, secretsConfig("token_file: gh-token  #<",
		"token_env: T", "token_file: lab2-token  #<<"))
	dir := filepath.Dir(path)
	gh := writeSecret(t, dir, "gh-token", "ghp_x\n", 0o644)
	lab := writeSecret(t, dir, "lab2-token", "t\n", 0o602)
	text, _ := os.ReadFile(path)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.LoadSecrets()
	if err == nil {
		t.Fatal("LoadSecrets read files every user may read")
	}
	for _, want := range []string{
		fmt.Sprintf("%s:%d: github.token_file: %s is open to every user of this host (mode 0644): chmod 600 %s", path, lineOf(t, string(text), "#<"), gh, gh),
		fmt.Sprintf("%s:%d: targets[1].lava.token_file: %s is open to every user of this host (mode 0602): chmod 600 %s", path, lineOf(t, string(text), "#<<"), lab, lab),
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error\n%v\ndoes not say\n%s", err, want)
		}
	}
	if strings.Contains(err.Error(), "ghp_x") {
		t.Errorf("error shows the token: %v", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "adir"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := readSecretFile(filepath.Join(dir, "adir")); err == nil || !strings.Contains(err.Error(), "not a file") {
		t.Errorf("a directory as a secret file: %v", err)
	}
}

func TestSecretKeyErrors(t *testing.T) {
	for _, tt := range []struct{ name, github, lab1, key, want string }{
		{"github token from a file and a variable", "token_env: A, token_file: /etc/a  #<", "token_env: T", "github.token_file", "token_env and token_file both name the GitHub token: keep one"},
		{"webhook secret from a file and a variable", "token_env: A, webhook_secret_env: B, webhook_secret_file: /etc/b  #<", "token_env: T", "github.webhook_secret_file", "webhook_secret_env and webhook_secret_file both name the webhook secret"},
		{"no github token", "api_url: 'https://ghe.example.org/'  #<", "token_env: T", "github.token_env", "missing: name the environment variable (token_env) or the file (token_file, mode 0600)"},
		{"token pasted as a variable name", "token_env: ghp_0123-4567  #<", "token_env: T", "github.token_env", "not an environment variable name"},
		{"lava token from a file and a variable", "token_env: A", "token_env: T, token_file: /etc/t  #<", "targets[0].lava.token_file", "token_env and token_file both name the lab's REST token"},
		{"no lava token", "token_env: A", "tags: [x]  #<", "targets[0].lava.token_env", "missing: name the environment variable (token_env) or the file (token_file, mode 0600)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			text := secretsConfig(tt.github, tt.lab1, "token_env: T")
			path := writeConfig(t, text)
			_, err := Load(path)
			want := fmt.Sprintf("%s:%d: %s: %s", path, lineOf(t, text, "#<"), tt.key, tt.want)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error:\n%v\nwant:\n%s", err, want)
			}
			if err != nil && strings.Contains(err.Error(), "ghp_0123") {
				t.Errorf("error shows what may be a token: %v", err)
			}
		})
	}
}

// A config built in code, whose secrets were never loaded, reads a LAVA
// token where it is named, and leaves the variable alone.
func TestLAVATokenWithoutLoadSecrets(t *testing.T) {
	t.Setenv("TCBOT_T_DIRECT", "direct\n")
	l := &LAVATarget{TokenEnv: "TCBOT_T_DIRECT"}
	if tok, err := l.Token(); err != nil || tok != "direct" {
		t.Errorf("Token() = %q, %v", tok, err)
	}
	if os.Getenv("TCBOT_T_DIRECT") == "" {
		t.Error("Token() unset the variable")
	}
	f := writeSecret(t, t.TempDir(), "tok", "fromfile\n", 0o644)
	if _, err := (&LAVATarget{TokenFile: f}).Token(); err == nil || !strings.Contains(err.Error(), "lava.token_file") || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("Token() of an open file: %v", err)
	}
}
