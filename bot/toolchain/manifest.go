package toolchain

import (
	"context"
	"fmt"

	"github.com/tcbot/tcbot/bot/config"
)

func init() { Register("manifest", manifestKind{}) }

// manifestKind reads the compiler per arch from tcbot-toolchain.yaml at
// the revision under test.
type manifestKind struct{}

func (manifestKind) Resolve(ctx context.Context, r *Resolver, req Request) (*Toolchain, error) {
	where := fmt.Sprintf("%s@%s:%s", req.Repo.Name, short(req.SHA), ManifestFile)
	data, found, err := req.Source.ReadFile(req.SHA, ManifestFile)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%s: not found: a repository with toolchain: manifest must hold %s naming the compiler per arch, or configure toolchain: host", where, ManifestFile)
	}
	m, err := ParseManifest(where, data)
	if err != nil {
		return nil, err
	}
	e, ok := m[req.Arch]
	if !ok {
		return nil, fmt.Errorf("%s: no entry for arch %s: add %s: {cc: %s, cflags: \"-O2\"}", where, req.Arch, req.Arch, config.Arches[req.Arch].CC)
	}
	return r.FromEntry(ctx, req, e, Identity{Tree: req.SHA})
}
