package lava

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/template"

	"github.com/tcbot/tcbot/bot/executor"
	lavatemplates "github.com/tcbot/tcbot/deploy/lava"
)

// JobData is what a job template (deploy/lava/qemu-job.yaml.tmpl, or the
// target's job_template) is rendered with.
type JobData struct {
	JobName    string
	DeviceType string
	Tags       []string
	Priority   string // high, medium, low or 0..100
	Visibility string // public or personal
	// Arch is the device's arch in LAVA's qemu template: arm64 or arm.
	Arch string
	// CPU and Machine are QEMU's -cpu and -machine.
	CPU, Machine string
	// Memory is the guest's RAM in MiB.
	Memory int
	// Console is the serial console device (ttyAMA0).
	Console string
	// KernelArgs are added to the kernel command line.
	KernelArgs string
	// KernelURL and RamdiskURL are where LAVA downloads the kernel and the
	// initramfs (gzip'd cpio newc) from tcbot's artifact server.
	KernelURL, RamdiskURL string
	// Timeouts in seconds: deploy, boot (to the shell prompt), the test
	// action, the whole job, and the longest silence of one step.
	DeployTimeout, BootTimeout, TestTimeout, JobTimeout, StepTimeout int
	// Steps are the inline test definition's shell lines, one benchmark
	// run each.
	Steps []string
}

// ParseTemplate parses a job template; an empty text means the built-in
// template for device type qemu.
func ParseTemplate(name, text string) (*template.Template, error) {
	if text == "" {
		name, text = "deploy/lava/qemu-job.yaml.tmpl", lavatemplates.QEMUJob
	}
	t, err := template.New(name).Option("missingkey=error").Funcs(template.FuncMap{"quote": yamlQuote}).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("job template: %w", err)
	}
	return t, nil
}

// Render renders a job definition.
func Render(t *template.Template, d JobData) (string, error) {
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return "", fmt.Errorf("job template %s: %w", t.Name(), err)
	}
	return b.String(), nil
}

// yamlQuote writes s as a double-quoted YAML scalar (JSON's string syntax
// is a subset of it).
func yamlQuote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSpace(b.String())
}

// step is the guest shell line of one run: /tcbot/run INDEX CASE TIMEOUT
// DIR ENV... -- ARGV...
func step(index int, caseName string, timeout int, dir string, env, argv []string) string {
	w := []string{"/tcbot/run", strconv.Itoa(index), executor.ShellQuote(caseName), strconv.Itoa(timeout), executor.ShellQuote(dir)}
	for _, e := range env {
		w = append(w, executor.ShellQuote(e))
	}
	w = append(w, "--")
	for _, a := range argv {
		w = append(w, executor.ShellQuote(a))
	}
	return strings.Join(w, " ")
}
