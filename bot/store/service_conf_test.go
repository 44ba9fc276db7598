package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
)

func confDeliveries(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	dup, err := RecordDelivery(ctx, s.Q(), "d-1", "push", "")
	if err != nil || dup {
		t.Fatalf("first delivery: duplicate %v, err %v", dup, err)
	}
	dup, err = RecordDelivery(ctx, s.Q(), "d-1", "push", "")
	if err != nil || !dup {
		t.Fatalf("redelivery: duplicate %v, err %v; want a duplicate", dup, err)
	}
	// Many senders racing with the same IDs: each ID is new exactly once.
	var wg sync.WaitGroup
	var mu sync.Mutex
	fresh := map[string]int{}
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				id := fmt.Sprintf("r-%d", i)
				dup, err := RecordDelivery(ctx, s.Q(), id, "pull_request", "opened")
				if err != nil {
					t.Error(err)
					return
				}
				if !dup {
					mu.Lock()
					fresh[id]++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	for i := 0; i < 20; i++ {
		if n := fresh[fmt.Sprintf("r-%d", i)]; n != 1 {
			t.Errorf("delivery r-%d recorded as new %d times, want 1", i, n)
		}
	}
}

func confChanges(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	a := &Change{Repo: "toolchain", Head: revA, Origin: "pr", PR: 7, Targets: []string{"armv7-qemu", "armv8-qemu"}}
	b := &Change{Repo: "toolchain", Head: revB, Base: revA, Origin: "push"}
	for _, c := range []*Change{a, b} {
		if _, err := InsertChange(ctx, s.Q(), c); err != nil {
			t.Fatal(err)
		}
	}
	if a.ID == 0 || b.ID <= a.ID {
		t.Fatalf("IDs %d, %d: want increasing, non-zero", a.ID, b.ID)
	}
	got, err := GetChange(ctx, s.Q(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Repo != "toolchain" || got.Head != revA || got.PR != 7 || !reflect.DeepEqual(got.Targets, a.Targets) || got.State != ChangeQueued || got.Reported {
		t.Errorf("GetChange = %+v", got)
	}
	if _, err := GetChange(ctx, s.Q(), 99999); err == nil {
		t.Error("GetChange of an unknown ID succeeded")
	}
	if err := SetChangeState(ctx, s.Q(), a.ID, ChangeCancelled, "closed"); err != nil {
		t.Fatal(err)
	}
	if err := SetChangeState(ctx, s.Q(), a.ID, ChangeCancelled, ""); err != nil {
		t.Fatal(err)
	}
	if got, _ := GetChange(ctx, s.Q(), a.ID); got.State != ChangeCancelled || got.Note != "closed" {
		t.Errorf("after cancel: state %q note %q; an empty note must keep the old one", got.State, got.Note)
	}
	if err := FinishChange(ctx, s.Q(), b.ID, revA, "regression", `{"verdict":"regression"}`); err != nil {
		t.Fatal(err)
	}
	if err := MarkReported(ctx, s.Q(), b.ID); err != nil {
		t.Fatal(err)
	}
	got, _ = GetChange(ctx, s.Q(), b.ID)
	if got.State != ChangeDone || got.Verdict != "regression" || got.Report != `{"verdict":"regression"}` || !got.Reported {
		t.Errorf("finished change = %+v", got)
	}
	list, err := ListChanges(ctx, s.Q(), "repo = ? AND state IN ('done', 'queued')", 10, "toolchain")
	if err != nil || len(list) != 1 || list[0].ID != b.ID {
		t.Errorf("ListChanges = %v, %v; want only change %d", list, err, b.ID)
	}
	all, err := ListChanges(ctx, s.Q(), "", 10)
	if err != nil || len(all) != 2 || all[0].ID != b.ID {
		t.Errorf("ListChanges all = %d changes, %v; want 2, newest first", len(all), err)
	}
}

func confChangeTargets(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	c := &Change{Repo: "toolchain", Head: revA, Origin: "push"}
	if _, err := InsertChange(ctx, s.Q(), c); err != nil {
		t.Fatal(err)
	}
	if err := AddChangeTargets(ctx, s.Q(), c.ID, []string{"armv8-qemu", "armv7-qemu"}); err != nil {
		t.Fatal(err)
	}
	if err := SetChangeTarget(ctx, s.Q(), c.ID, "armv8-qemu", TargetDone, "w1", ""); err != nil {
		t.Fatal(err)
	}
	// Adding again keeps the state of what was recorded.
	if err := AddChangeTargets(ctx, s.Q(), c.ID, []string{"armv8-qemu"}); err != nil {
		t.Fatal(err)
	}
	if err := SetChangeTarget(ctx, s.Q(), c.ID, "no-such-target", TargetDone, "w1", ""); err == nil {
		t.Error("SetChangeTarget of an unknown target succeeded")
	}
	if err := StartChange(ctx, s.Q(), c.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := GetChange(ctx, s.Q(), c.ID); got.State != ChangeRunning {
		t.Errorf("StartChange: state %s, want running", got.State)
	}
	got, err := ChangeTargets(ctx, s.Q(), c.ID)
	want := []ChangeTarget{
		{ChangeID: c.ID, Target: "armv7-qemu", State: TargetQueued},
		{ChangeID: c.ID, Target: "armv8-qemu", State: TargetDone, Worker: "w1"},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ChangeTargets = %+v, %v; want %+v", got, err, want)
	}
	// Cancelling leaves what was measured alone.
	if err := CancelChangeTargets(ctx, s.Q(), c.ID, "closed"); err != nil {
		t.Fatal(err)
	}
	got, _ = ChangeTargets(ctx, s.Q(), c.ID)
	if len(got) != 2 || got[0].State != TargetCancelled || got[0].Note != "closed" || got[1].State != TargetDone {
		t.Errorf("after CancelChangeTargets: %+v", got)
	}
	// A cancelled change is not started again.
	if err := SetChangeState(ctx, s.Q(), c.ID, ChangeCancelled, "closed"); err != nil {
		t.Fatal(err)
	}
	if err := StartChange(ctx, s.Q(), c.ID); err != nil {
		t.Fatal(err)
	}
	if c2, _ := GetChange(ctx, s.Q(), c.ID); c2.State != ChangeCancelled {
		t.Errorf("StartChange of a cancelled change made it %s", c2.State)
	}
}

func confPulls(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	q := s.Q()
	if _, ok, err := GetPull(ctx, q, "toolchain", 1); ok || err != nil {
		t.Fatalf("unknown pull: ok %v err %v", ok, err)
	}
	p := Pull{Repo: "toolchain", Number: 1, Head: revA, BaseRef: "main", Author: "alice", Open: true}
	if err := UpsertPull(ctx, q, p); err != nil {
		t.Fatal(err)
	}
	if err := SetPullTrust(ctx, q, "toolchain", 1, true); err != nil {
		t.Fatal(err)
	}
	if err := ApprovePull(ctx, q, "toolchain", 1, revA); err != nil {
		t.Fatal(err)
	}
	if err := SetPullVerdict(ctx, q, "toolchain", 1, "regression"); err != nil {
		t.Fatal(err)
	}
	// A new head keeps trust, approval and verdict.
	p.Head, p.Draft = revB, true
	if err := UpsertPull(ctx, q, p); err != nil {
		t.Fatal(err)
	}
	got, ok, err := GetPull(ctx, q, "toolchain", 1)
	want := Pull{Repo: "toolchain", Number: 1, Head: revB, BaseRef: "main", Author: "alice", Trusted: true, ApprovedHead: revA, Draft: true, Open: true, LastVerdict: "regression"}
	if !ok || err != nil || *got != want {
		t.Errorf("GetPull = %+v (%v, %v), want %+v", got, ok, err, want)
	}
	if err := UpsertPull(ctx, q, Pull{Repo: "toolchain", Number: 2, Head: revA, BaseRef: "main", Author: "bob", Open: false}); err != nil {
		t.Fatal(err)
	}
	open2, err := OpenPulls(ctx, q, "toolchain")
	if err != nil || len(open2) != 1 || open2[0].Number != 1 {
		t.Errorf("OpenPulls = %+v, %v; want only #1", open2, err)
	}
}

func confBranchHeads(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	q := s.Q()
	if sha, err := BranchHead(ctx, q, "toolchain", "main"); sha != "" || err != nil {
		t.Fatalf("unknown branch: %q %v", sha, err)
	}
	for _, sha := range []string{revA, revB} {
		if err := SetBranchHead(ctx, q, "toolchain", "main", sha); err != nil {
			t.Fatal(err)
		}
	}
	if sha, err := BranchHead(ctx, q, "toolchain", "main"); sha != revB || err != nil {
		t.Errorf("BranchHead = %q %v, want %s", sha, err, revB)
	}
	if err := SetBranchHead(ctx, q, "toolchain", "main", ""); err != nil {
		t.Fatal(err)
	}
	if sha, _ := BranchHead(ctx, q, "toolchain", "main"); sha != "" {
		t.Errorf("forgotten branch head = %q", sha)
	}
}

func confTxRollsBack(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	boom := errors.New("boom")
	err := s.Tx(ctx, func(tx Tx) error {
		if _, err := RecordDelivery(ctx, tx, "in-tx", "push", ""); err != nil {
			return err
		}
		if _, err := InsertChange(ctx, tx, &Change{Repo: "toolchain", Head: revA, Origin: "push"}); err != nil {
			return err
		}
		if tx.Raw() == nil {
			t.Error("Tx.Raw is nil: the queue could not insert jobs in it")
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Tx = %v, want boom", err)
	}
	if dup, _ := RecordDelivery(ctx, s.Q(), "in-tx", "push", ""); dup {
		t.Error("the delivery of a rolled-back transaction was kept")
	}
	if list, _ := ListChanges(ctx, s.Q(), "", 10); len(list) != 0 {
		t.Errorf("%d changes kept from a rolled-back transaction", len(list))
	}
}

func confWorkers(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	if err := Heartbeat(ctx, s.Q(), "w1", "host-a", []string{"armv8-board1", "armv8-board2"}); err != nil {
		t.Fatal(err)
	}
	if err := Heartbeat(ctx, s.Q(), "w2", "host-b", nil); err != nil {
		t.Fatal(err)
	}
	ws, err := Workers(ctx, s.Q())
	if err != nil || len(ws) != 2 {
		t.Fatalf("Workers = %+v, %v", ws, err)
	}
	w1 := ws[0]
	if w1.ID != "w1" {
		w1 = ws[1]
	}
	first := w1.Heartbeat
	if !reflect.DeepEqual(w1.Targets, []string{"armv8-board1", "armv8-board2"}) || w1.Host != "host-a" || first.IsZero() {
		t.Errorf("worker w1 = %+v", w1)
	}
	if err := Heartbeat(ctx, s.Q(), "w1", "host-a", []string{"armv8-board1"}); err != nil {
		t.Fatal(err)
	}
	ws, _ = Workers(ctx, s.Q())
	if ws[0].ID != "w1" || ws[0].Heartbeat.Before(first) || !ws[0].Started.Equal(w1.Started) || len(ws[0].Targets) != 1 {
		t.Errorf("after a second heartbeat: %+v (newest first, started kept)", ws[0])
	}
	if err := RemoveWorker(ctx, s.Q(), "w2"); err != nil {
		t.Fatal(err)
	}
	if ws, _ := Workers(ctx, s.Q()); len(ws) != 1 {
		t.Errorf("after RemoveWorker: %d workers", len(ws))
	}
}

func confReopen(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	if err := s.Put(ctx, measurement(key(revA))); err != nil {
		t.Fatal(err)
	}
	again, err := OpenURL(ctx, s.src)
	if err != nil {
		t.Fatalf("reopen %s: %v", s.Name(), err)
	}
	defer again.Close()
	if _, ok, err := again.Get(ctx, key(revA)); !ok || err != nil {
		t.Errorf("Get after reopen: ok %v, err %v", ok, err)
	}
}

// Copy carries every table into an empty store of this kind, from SQLite.
func confCopy(t *testing.T, open opener) {
	ctx := context.Background()
	from := openSQLite(t)
	fill(t, from)
	to := open(t)
	stats, err := Copy(ctx, from, to)
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	want := CopyStats{"measurements": 2, "results": 8, "binaries": 4, "deliveries": 1, "changes": 2, "change_targets": 2, "pulls": 1, "branch_heads": 1}
	if !reflect.DeepEqual(stats, want) {
		t.Errorf("Copy stats = %v, want %v", stats, want)
	}
	for _, rev := range []string{revA, revB} {
		a, _, _ := from.Get(ctx, key(rev))
		b, ok, err := to.Get(ctx, key(rev))
		if !ok || err != nil || !reflect.DeepEqual(a, b) {
			t.Errorf("measurement %s differs after Copy:\n%+v\n%+v", rev, a, b)
		}
	}
	c, err := GetChange(ctx, to.Q(), 1)
	if err != nil || c.Verdict != "regression" || c.Report != `{"verdict":"regression"}` || !c.Reported {
		t.Errorf("copied change 1 = %+v, %v", c, err)
	}
	// New rows get new IDs after the copied ones.
	n := &Change{Repo: "toolchain", Head: revB, Origin: "push"}
	if _, err := InsertChange(ctx, to.Q(), n); err != nil || n.ID != 3 {
		t.Errorf("first change after Copy got ID %d (%v), want 3", n.ID, err)
	}
	if dup, _ := RecordDelivery(ctx, to.Q(), "d-1", "push", ""); !dup {
		t.Error("a copied delivery is not known: a redelivery would be processed twice")
	}
	// A second Copy into the now non-empty store refuses and changes nothing.
	before, _ := to.Count(ctx)
	if _, err := Copy(ctx, from, to); err == nil {
		t.Error("Copy into a non-empty store succeeded")
	}
	if after, _ := to.Count(ctx); after != before {
		t.Errorf("refused Copy changed the destination: %d -> %d measurements", before, after)
	}
}

// fill stores a little of everything.
func fill(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	for _, rev := range []string{revA, revB} {
		if err := s.Put(ctx, measurement(key(rev))); err != nil {
			t.Fatal(err)
		}
	}
	q := s.Q()
	if _, err := RecordDelivery(ctx, q, "d-1", "push", ""); err != nil {
		t.Fatal(err)
	}
	a := &Change{Repo: "toolchain", Head: revB, Base: revA, Origin: "push", Targets: []string{"armv8-qemu"}}
	b := &Change{Repo: "toolchain", Head: revA, Origin: "pr", PR: 3}
	for _, c := range []*Change{a, b} {
		if _, err := InsertChange(ctx, q, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := AddChangeTargets(ctx, q, a.ID, []string{"armv8-qemu", "armv7-qemu"}); err != nil {
		t.Fatal(err)
	}
	if err := FinishChange(ctx, q, a.ID, revA, "regression", `{"verdict":"regression"}`); err != nil {
		t.Fatal(err)
	}
	if err := MarkReported(ctx, q, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := UpsertPull(ctx, q, Pull{Repo: "toolchain", Number: 3, Head: revA, BaseRef: "main", Author: "alice", Open: true}); err != nil {
		t.Fatal(err)
	}
	if err := SetBranchHead(ctx, q, "toolchain", "main", revB); err != nil {
		t.Fatal(err)
	}
}
