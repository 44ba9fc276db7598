package toolchain

import (
	"context"
	"fmt"
)

func init() { Register("host", hostKind{}) }

// hostKind takes the fixed compilers of the config (repos[].host), for
// repositories whose changes do not change the compiler (kernels).
type hostKind struct{}

func (hostKind) Resolve(ctx context.Context, r *Resolver, req Request) (*Toolchain, error) {
	h, ok := req.Repo.Host[req.Arch]
	if !ok {
		return nil, fmt.Errorf("repo %s: toolchain host names no compiler for %s", req.Repo.Name, req.Arch)
	}
	return r.FromEntry(ctx, req, Entry(h), Identity{})
}
