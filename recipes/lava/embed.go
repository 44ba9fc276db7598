// Package lavarecipes holds the LAVA side of tcbot's recipes, as files an
// operator can read and copy for a lab of their own: the job template of
// the distribution scenario (recipe distro-lamp) and the /init tail of the
// ramdisk that job boots. bot/lava renders the template
// (DistroLAMP.Definition) and builds the ramdisk (DistroLAMPRamdisk).
package lavarecipes

import _ "embed"

// DistroLAMPJob is the distro-lamp job template (Go text/template) for
// device type qemu; its header lists the fields, bot/lava documents them.
//
//go:embed distro-lamp.yaml.tmpl
var DistroLAMPJob string

// DistroLAMPSwitchRoot is the tail of the distro-lamp ramdisk's /init (after
// tcbot's standard /init): mount the root image, put LAVA's test overlay
// and the load generator on it and switch root to a shell of the image.
//
//go:embed distro-lamp-switchroot.sh
var DistroLAMPSwitchRoot string
