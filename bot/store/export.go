package store

import (
	"container/heap"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tcbot/tcbot/bot/result"
)

// ExportFilter selects measurements for `tcbot export`.
type ExportFilter struct {
	Repo         string
	Since, Until time.Time // created at or after Since, before Until; zero: unbounded
	Targets      []string  // empty: all
}

// MeasuredTargets returns the targets a repository has measurements on,
// sorted; none when the store has no measurement of it.
func (s *Store) MeasuredTargets(ctx context.Context, repo string) ([]string, error) {
	rows, err := s.q.Query(ctx, `SELECT DISTINCT target FROM measurements WHERE repo = ? ORDER BY target`, repo)
	if err != nil {
		return nil, fmt.Errorf("targets of %s: %w", repo, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Export returns the measurements of a repository that match f, with
// their results (not their binaries), in commit order: a revision
// measured as the base of a change comes before that change's head,
// transitively across all the repository's changes. Revisions the
// changes do not order (and cycles, from changes measured both ways)
// fall back to the time of their first measurement, then the revision.
// One revision's measurements are ordered by target, suite, suite
// version, toolchain and time, so the same store always exports the same
// bytes.
func (s *Store) Export(ctx context.Context, f ExportFilter) ([]*Measurement, error) {
	where := `repo = ?`
	args := []any{f.Repo}
	if !f.Since.IsZero() {
		where += ` AND created_at >= ?`
		args = append(args, f.Since.UTC().Format(timeFormat))
	}
	if !f.Until.IsZero() {
		where += ` AND created_at < ?`
		args = append(args, f.Until.UTC().Format(timeFormat))
	}
	if len(f.Targets) > 0 {
		where += ` AND target IN (?` + strings.Repeat(`, ?`, len(f.Targets)-1) + `)`
		for _, t := range f.Targets {
			args = append(args, t)
		}
	}
	rows, err := s.q.Query(ctx, `SELECT id, revision, toolchain_id, target, suite, suite_version, subject, toolchain, created_at
		FROM measurements WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", f.Repo, err)
	}
	byID := map[int64]*Measurement{}
	var ms []*Measurement
	ids := map[*Measurement]int64{}
	for rows.Next() {
		var id int64
		var created string
		m := &Measurement{Key: Key{Repo: f.Repo}}
		if err := rows.Scan(&id, &m.Revision, &m.ToolchainID, &m.Target, &m.Suite, &m.SuiteVersion, &m.Subject, &m.Toolchain, &created); err != nil {
			rows.Close()
			return nil, fmt.Errorf("export %s: %w", f.Repo, err)
		}
		m.CreatedAt, _ = time.Parse(timeFormat, created)
		byID[id], ids[m] = m, id
		ms = append(ms, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("export %s: %w", f.Repo, err)
	}
	if len(ms) == 0 {
		return nil, nil
	}

	// All results in one query: an export may hold thousands of
	// measurements, and PostgreSQL may be across a network.
	rrows, err := s.q.Query(ctx, `SELECT measurement_id, benchmark, metric, unit, samples, note, identical FROM results
		WHERE measurement_id IN (SELECT id FROM measurements WHERE `+where+`)
		ORDER BY measurement_id, benchmark, metric`, args...)
	if err != nil {
		return nil, fmt.Errorf("export %s: results: %w", f.Repo, err)
	}
	defer rrows.Close()
	for rrows.Next() {
		var id int64
		var r result.Result
		var samples string
		var identical int
		if err := rrows.Scan(&id, &r.Benchmark, &r.Metric, &r.Unit, &samples, &r.Note, &identical); err != nil {
			return nil, fmt.Errorf("export %s: results: %w", f.Repo, err)
		}
		m, ok := byID[id]
		if !ok {
			continue // stored since the first query: not part of this export
		}
		if err := json.Unmarshal([]byte(samples), &r.Samples); err != nil {
			return nil, fmt.Errorf("result %s/%s of %s@%s: bad samples: %w", r.Benchmark, r.Metric, f.Repo, short(m.Revision), err)
		}
		r.Target, r.Suite, r.Identical = m.Target, m.Suite, identical != 0
		m.Results = append(m.Results, r)
	}
	if err := rrows.Err(); err != nil {
		return nil, fmt.Errorf("export %s: results: %w", f.Repo, err)
	}

	rank, err := s.commitOrder(ctx, f.Repo, ms)
	if err != nil {
		return nil, err
	}
	sort.Slice(ms, func(i, j int) bool {
		a, b := ms[i], ms[j]
		if ra, rb := rank[a.Revision], rank[b.Revision]; ra != rb {
			return ra < rb
		}
		if a.Target != b.Target {
			return a.Target < b.Target
		}
		if a.Suite != b.Suite {
			return a.Suite < b.Suite
		}
		if a.SuiteVersion != b.SuiteVersion {
			return a.SuiteVersion < b.SuiteVersion
		}
		if a.ToolchainID != b.ToolchainID {
			return a.ToolchainID < b.ToolchainID
		}
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		return ids[a] < ids[b]
	})
	return ms, nil
}

// commitOrder ranks the revisions of ms: a topological order of the
// base→head pairs of the repository's changes (every change, so an
// order through revisions outside the export still counts). Among the
// revisions free to come next, the earliest first; revisions in a cycle
// (measured each as the other's base) come together, by time.
func (s *Store) commitOrder(ctx context.Context, repo string, ms []*Measurement) (map[string]int, error) {
	first := map[string]time.Time{} // a revision's first known time
	note := func(rev string, t time.Time) {
		if old, ok := first[rev]; !ok || t.Before(old) {
			first[rev] = t
		}
	}
	for _, m := range ms {
		note(m.Revision, m.CreatedAt)
	}
	rows, err := s.q.Query(ctx, `SELECT base, head, created_at FROM changes
		WHERE repo = ? AND base <> '' AND head <> '' AND base <> head`, repo)
	if err != nil {
		return nil, fmt.Errorf("export %s: commit order: %w", repo, err)
	}
	type edge struct{ base, head string }
	var edges []edge
	for rows.Next() {
		var e edge
		var created string
		if err := rows.Scan(&e.base, &e.head, &created); err != nil {
			rows.Close()
			return nil, fmt.Errorf("export %s: commit order: %w", repo, err)
		}
		t, _ := time.Parse(timeFormat, created)
		note(e.base, t)
		note(e.head, t)
		edges = append(edges, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("export %s: commit order: %w", repo, err)
	}

	// Revisions become 0..n-1 in time order, so "earliest" is "smallest".
	revs := make([]string, 0, len(first))
	for rev := range first {
		revs = append(revs, rev)
	}
	sort.Slice(revs, func(i, j int) bool {
		a, b := revs[i], revs[j]
		if ta, tb := first[a], first[b]; !ta.Equal(tb) {
			return ta.Before(tb)
		}
		return a < b
	})
	index := make(map[string]int, len(revs))
	for i, rev := range revs {
		index[rev] = i
	}
	next := make([][]int, len(revs))
	for _, e := range edges {
		next[index[e.base]] = append(next[index[e.base]], index[e.head])
	}

	// Collapse cycles (Tarjan's strongly connected components); a
	// component is named by its earliest revision.
	comp := sccs(next)
	members := map[int][]int{}
	for v, c := range comp {
		members[c] = append(members[c], v) // v ascends: members in time order
	}
	indeg := map[int]int{}
	cnext := map[int][]int{}
	for v, hs := range next {
		for _, h := range hs {
			if cv, ch := comp[v], comp[h]; cv != ch {
				cnext[cv] = append(cnext[cv], ch)
				indeg[ch]++
			}
		}
	}
	ready := &intHeap{}
	for c := range members {
		if indeg[c] == 0 {
			*ready = append(*ready, c)
		}
	}
	heap.Init(ready)
	rank := make(map[string]int, len(revs))
	for ready.Len() > 0 {
		c := heap.Pop(ready).(int)
		for _, v := range members[c] {
			rank[revs[v]] = len(rank)
		}
		for _, h := range cnext[c] {
			if indeg[h]--; indeg[h] == 0 {
				heap.Push(ready, h)
			}
		}
	}
	return rank, nil
}

// sccs returns, for each vertex of the graph, its strongly connected
// component, named by its smallest vertex (Tarjan's algorithm).
func sccs(next [][]int) []int {
	n := len(next)
	comp := make([]int, n)
	idx := make([]int, n) // 0: unvisited; else discovery order + 1
	low := make([]int, n)
	onStack := make([]bool, n)
	var stack []int
	counter := 0
	var visit func(v int)
	visit = func(v int) {
		counter++
		idx[v], low[v] = counter, counter
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range next[v] {
			if idx[w] == 0 {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], idx[w])
			}
		}
		if low[v] == idx[v] {
			var vs []int
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				vs = append(vs, w)
				if w == v {
					break
				}
			}
			name := v
			for _, w := range vs {
				name = min(name, w)
			}
			for _, w := range vs {
				comp[w] = name
			}
		}
	}
	for v := 0; v < n; v++ {
		if idx[v] == 0 {
			visit(v)
		}
	}
	return comp
}

// intHeap is a min-heap of component names: the earliest ready first.
type intHeap []int

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *intHeap) Pop() any {
	x := (*h)[len(*h)-1]
	*h = (*h)[:len(*h)-1]
	return x
}
