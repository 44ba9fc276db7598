package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// validateLAVA checks the lava section of target i.
func (c *Config) validateLAVA(i int, t Target, bad badFunc) {
	key := func(k string) string { return fmt.Sprintf("targets[%d].lava.%s", i, k) }
	ln := func(k string) int { return c.line("targets", i, "lava", k) }
	l := t.LAVA
	if l == nil {
		bad(c.line("targets", i, "executor"), fmt.Sprintf("targets[%d].lava", i), "missing: a lava target needs lava: {url, token_env, device_type}")
		return
	}
	if u, err := url.Parse(l.URL); l.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad(ln("url"), key("url"), "%q: want the lab's root URL, e.g. https://lava.example.org/", l.URL)
	}
	c.validateSecret(bad, fmt.Sprintf("targets[%d].lava", i), []any{"targets", i, "lava"}, "token", l.TokenEnv, l.TokenFile, "the lab's REST token", true)
	if l.DeviceType == "" {
		bad(ln("device_type"), key("device_type"), "missing: the lab's device type to run on, e.g. qemu")
	}
	if l.ArtifactURL != "" {
		if u, err := url.Parse(l.ArtifactURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(ln("artifact_url"), key("artifact_url"), "%q: want http://host:port/ as the lab's workers reach this tcbot", l.ArtifactURL)
		}
	}
	if l.ArtifactListen != "" {
		if _, _, err := net.SplitHostPort(l.ArtifactListen); err != nil {
			bad(ln("artifact_listen"), key("artifact_listen"), "%q: want host:port, e.g. 0.0.0.0:8090", l.ArtifactListen)
		} else if strings.HasSuffix(l.ArtifactListen, ":0") && l.ArtifactURL != "" {
			bad(ln("artifact_url"), key("artifact_url"), "artifact_listen %s picks a free port, which artifact_url cannot know: give artifact_listen a fixed port", l.ArtifactListen)
		} else if host, _, _ := net.SplitHostPort(l.ArtifactListen); l.ArtifactURL == "" && (host == "" || net.ParseIP(host).IsUnspecified()) {
			bad(ln("artifact_listen"), key("artifact_url"), "missing: artifact_listen %s listens on every address; say how the lab's workers reach it, e.g. artifact_url: http://tcbot.example.org%s/", l.ArtifactListen, l.ArtifactListen[strings.LastIndex(l.ArtifactListen, ":"):])
		}
	}
	for _, f := range []struct{ k, p string }{{"job_template", l.JobTemplate}, {"kernel", l.Kernel}} {
		if f.p == "" {
			continue
		}
		if _, err := os.Stat(f.p); err != nil {
			bad(ln(f.k), key(f.k), "%v", err)
		}
	}
	if l.Retries != nil && (*l.Retries < 0 || *l.Retries > 10) {
		bad(ln("retries"), key("retries"), "%d: want 0 to 10", *l.Retries)
	}
	switch l.Priority {
	case "", "high", "medium", "low":
	default:
		if n, err := strconv.Atoi(l.Priority); err != nil || n < 0 || n > 100 {
			bad(ln("priority"), key("priority"), "%q: want high, medium, low or 0 to 100", l.Priority)
		}
	}
	switch l.Visibility {
	case "", "public", "personal":
	default:
		bad(ln("visibility"), key("visibility"), "%q: want public or personal", l.Visibility)
	}
	if l.Memory < 0 || l.Memory > 1<<20 {
		bad(ln("memory"), key("memory"), "%d: want the guest's RAM in MiB, e.g. 1024", l.Memory)
	}
	if l.BootTimeout < 0 {
		bad(ln("boot_timeout"), key("boot_timeout"), "%v is negative: want a duration such as 3m", time.Duration(l.BootTimeout))
	}
}

func (c *Config) refuseLAVA(i int, t Target, bad badFunc) {
	if t.LAVA != nil {
		bad(c.line("targets", i, "lava"), fmt.Sprintf("targets[%d].lava", i), "only for executor: lava")
	}
}
