// Package lavatemplates holds what tcbot puts into a LAVA job, as files an
// operator can read (and, for the job template, replace per target with
// job_template): the job definition template for device type qemu, and
// the guest side of a job (the per-run helper and the timer
// tcbot cross-compiles for the guest; the rest of the initramfs is
// bot/kernel's standard one with a shell on the console). bot/lava
// renders and packs them; deploy/lava/lava-setup.sh stands up a local lab.
package lavatemplates

import _ "embed"

// QEMUJob is the job definition template (Go text/template) for device
// type qemu; bot/lava documents its fields.
//
//go:embed qemu-job.yaml.tmpl
var QEMUJob string

// GuestRun is /tcbot/run, one benchmark run reported as LAVA test cases.
//
//go:embed guest/run.sh
var GuestRun []byte

// GuestTimer is the C source of /tcbot/timer, which runs and measures one
// benchmark in the guest.
//
//go:embed guest/timer.c
var GuestTimer []byte
