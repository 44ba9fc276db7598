package service_test

import (
	"strings"
	"testing"

	"github.com/tcbot/tcbot/bot/forge/githubtest"
	"github.com/tcbot/tcbot/bot/store"
)

func headsOf(cs []*store.Change) map[string]int {
	out := map[string]int{}
	for _, c := range cs {
		out[c.Head]++
	}
	return out
}

func lastComment(cs []githubtest.Comment) string {
	if len(cs) == 0 {
		return ""
	}
	return cs[len(cs)-1].Body
}

// TestOkToTestApprovesTheHeadTheMaintainerSaw: head C waits, a maintainer
// writes /tcbot ok-to-test, and the author pushes D while tcbot asks
// GitHub for the maintainer's permission. D must not run: the approval is
// for C, which is no longer the head, and the reply names both. The
// explicit form then approves D.
func TestOkToTestApprovesTheHeadTheMaintainerSaw(t *testing.T) {
	e := setup(t, setupOpts{})
	c, d := e.sha["slow"], e.sha["fast again"]
	e.deliver("pull_request", e.pull("opened", 5, c, stranger, false))
	e.idle()
	// The push lands while the command's permission call is in flight.
	e.gh.Before("GET", "/repos/"+ghRepo+"/collaborators/"+maintainer, 1, func() {
		e.deliver("pull_request", e.pull("synchronize", 5, d, stranger, false))
	})
	e.deliver("issue_comment", e.comment(5, maintainer, "/tcbot ok-to-test"))
	e.idle()
	if h := headsOf(e.changes()); h[d] != 0 || h[c] != 0 {
		t.Fatalf("changes by head after an ok-to-test raced by a push: %v; want none (C was approved, but D is the head now)", h)
	}
	reply := lastComment(e.gh.Comments(ghRepo, 5))
	if !strings.Contains(reply, "Not approved") || !strings.Contains(reply, c[:12]) || !strings.Contains(reply, d[:12]) {
		t.Errorf("reply does not say the head moved, naming both SHAs: %q", reply)
	}

	// /tcbot ok-to-test <sha> approves the named commit when it is the head.
	e.deliver("issue_comment", e.comment(5, maintainer, "/tcbot ok-to-test "+d[:10]))
	e.idle()
	if h := headsOf(e.changes()); h[d] != 1 {
		t.Fatalf("explicit ok-to-test of the head: changes by head %v, want one of %s", h, d[:12])
	}
	// Naming a commit that is not the head approves nothing.
	e.deliver("issue_comment", e.comment(5, maintainer, "/tcbot ok-to-test "+c))
	e.idle()
	if n := len(e.changes()); n != 1 {
		t.Errorf("ok-to-test of an old commit started %d changes, want still 1", n)
	}
	if reply := lastComment(e.gh.Comments(ghRepo, 5)); !strings.Contains(reply, "Not approved") {
		t.Errorf("reply to an ok-to-test of an old commit: %q", reply)
	}
	e.deliver("issue_comment", e.comment(5, maintainer, "/tcbot ok-to-test not-a-sha"))
	e.idle()
	if reply := lastComment(e.gh.Comments(ghRepo, 5)); !strings.Contains(reply, "not a commit SHA") {
		t.Errorf("reply to a malformed ok-to-test: %q", reply)
	}
}

// TestRerunOfAnUntrustedPullRequestRunsOnlyApprovedHeads: approve A, the
// author pushes B, a maintainer writes /tcbot rerun: B must not run.
func TestRerunOfAnUntrustedPullRequestRunsOnlyApprovedHeads(t *testing.T) {
	e := setup(t, setupOpts{})
	a, b := e.sha["slow"], e.sha["slow, docs"]
	e.deliver("pull_request", e.pull("opened", 6, a, stranger, false))
	e.idle()
	e.deliver("issue_comment", e.comment(6, maintainer, "/tcbot ok-to-test"))
	e.idle()
	if h := headsOf(e.changes()); h[a] != 1 {
		t.Fatalf("ok-to-test did not run the approved head: %v", h)
	}
	e.deliver("pull_request", e.pull("synchronize", 6, b, stranger, false))
	e.idle()
	e.deliver("issue_comment", e.comment(6, maintainer, "/tcbot rerun"))
	e.idle()
	if h := headsOf(e.changes()); h[b] != 0 {
		t.Fatalf("rerun ran the unapproved head %s: %v", b[:12], h)
	}
	if reply := lastComment(e.gh.Comments(ghRepo, 6)); !strings.Contains(reply, "/tcbot ok-to-test") || !strings.Contains(reply, b[:12]) {
		t.Errorf("reply to the refused rerun: %q", reply)
	}
	// Approved, the same rerun runs.
	e.deliver("issue_comment", e.comment(6, maintainer, "/tcbot ok-to-test"))
	e.idle()
	e.deliver("issue_comment", e.comment(6, maintainer, "/tcbot rerun"))
	e.idle()
	if h := headsOf(e.changes()); h[b] != 2 {
		t.Errorf("after approval, ok-to-test and rerun ran head B %d times, want 2", h[b])
	}
}

// TestHelpIsForEveryone: help says anyone may ask for it, so it is
// answered without a permission check.
func TestHelpIsForEveryone(t *testing.T) {
	e := setup(t, setupOpts{})
	e.deliver("pull_request", e.pull("opened", 7, e.sha["no-op"], maintainer, false))
	e.idle()
	e.deliver("issue_comment", e.comment(7, stranger, "/tcbot help"))
	e.idle()
	reply := lastComment(e.gh.Comments(ghRepo, 7))
	if strings.Contains(reply, "only people with write access") || !strings.Contains(reply, "/tcbot rerun") {
		t.Errorf("help for a user without write access: %q", reply)
	}
}

// TestWaitingCommentSaysApproved: after ok-to-test the waiting comment no
// longer says the pull request waits.
func TestWaitingCommentSaysApproved(t *testing.T) {
	e := setup(t, setupOpts{})
	head := e.sha["slow"]
	e.deliver("pull_request", e.pull("opened", 8, head, stranger, false))
	e.idle()
	e.deliver("issue_comment", e.comment(8, maintainer, "/tcbot ok-to-test"))
	e.idle()
	var waiting []string
	for _, c := range e.gh.Comments(ghRepo, 8) {
		if strings.Contains(c.Body, "<!-- tcbot:waiting -->") {
			waiting = append(waiting, c.Body)
		}
	}
	if len(waiting) != 1 || strings.Contains(waiting[0], "will measure this pull request once") || !strings.Contains(waiting[0], "approved head "+head[:12]) {
		t.Errorf("waiting comments after approval: %q", waiting)
	}
}
