// Package deploy holds tcbot's deployment files: example configs
// (config/), systemd units (systemd/), the container image definition
// (container/) and Kubernetes manifests (k8s/). It has no code of its own;
// its tests keep those files working against the tcbot they deploy: every
// config passes `tcbot config check`, every unit passes
// `systemd-analyze verify`, every manifest decodes strictly into the
// Kubernetes API types, and every command line names real tcbot
// subcommands and flags.
package deploy
