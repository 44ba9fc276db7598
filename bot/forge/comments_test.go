package forge_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/tcbot/tcbot/bot/forge"
	"github.com/tcbot/tcbot/bot/forge/githubtest"
)

func report(s string) string { return marker + "\n" + s }

func TestStickyCommentIsEditedInPlace(t *testing.T) {
	e := setup(t)
	ctx := context.Background()

	id1, created, err := e.c.UpsertComment(ctx, acme, 7, marker, report("running"))
	if err != nil || !created {
		t.Fatalf("first upsert: id %d, created %v, err %v; want a new comment", id1, created, err)
	}
	for _, body := range []string{report("no regressions"), report("no regressions")} {
		id, created, err := e.c.UpsertComment(ctx, acme, 7, marker, body)
		if err != nil || created || id != id1 {
			t.Fatalf("upsert %q: id %d, created %v, err %v; want comment %d edited", body, id, created, err, id1)
		}
	}

	cs := e.gh.Comments("acme/gcc", 7)
	if len(cs) != 1 {
		t.Fatalf("%d comments after 3 upserts, want 1: %+v", len(cs), cs)
	}
	if cs[0].Body != report("no regressions") || cs[0].Edits != 1 || cs[0].User != githubtest.BotLogin {
		t.Errorf("comment = %+v; want the last body, edited once, by %s", cs[0], githubtest.BotLogin)
	}
	if n := e.calls("PATCH", "/repos/acme/gcc/issues/comments/"); n != 1 {
		t.Errorf("%d PATCH calls, want 1: an identical body is not sent again", n)
	}
}

func TestMarkerFoundOnThirdPage(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	var want int64
	for i := range 250 {
		if i == 230 {
			want = e.gh.AddComment("acme/gcc", 7, githubtest.BotLogin, report("old report"))
			continue
		}
		e.gh.AddComment("acme/gcc", 7, "human", fmt.Sprintf("comment %d", i))
	}

	id, body, found, err := e.c.FindComment(ctx, acme, 7, marker)
	if err != nil || !found || id != want || body != report("old report") {
		t.Fatalf("FindComment = %d, %q, %v, %v; want comment %d", id, body, found, err, want)
	}
	var pages []string
	for _, c := range e.gh.Calls() {
		if c.Method == "GET" && c.Path == "/repos/acme/gcc/issues/7/comments" {
			pages = append(pages, c.Query)
		}
	}
	if len(pages) != 3 || !strings.Contains(pages[2], "page=3") {
		t.Errorf("listed pages %q, want 3 pages ending with page=3", pages)
	}

	id, created, err := e.c.UpsertComment(ctx, acme, 7, marker, report("new report"))
	if err != nil || created || id != want {
		t.Errorf("UpsertComment = %d, %v, %v; want comment %d on page 3 edited", id, created, err, want)
	}
}

func TestNewestMarkedCommentIsTheStickyOne(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	e.gh.AddComment("acme/gcc", 7, githubtest.BotLogin, report("first run"))
	e.gh.AddComment("acme/gcc", 7, "alice", "thanks")
	// A regression got a fresh comment (edits notify nobody); later runs edit that one.
	newest, err := e.c.CreateComment(ctx, acme, 7, report("regression!"))
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := e.c.UpsertComment(ctx, acme, 7, marker, report("regression, rerun"))
	if err != nil || id != newest {
		t.Fatalf("UpsertComment edited %d (err %v), want the newest marked comment %d", id, err, newest)
	}
	if cs := e.gh.Comments("acme/gcc", 7); cs[0].Body != report("first run") {
		t.Errorf("the older report changed: %q", cs[0].Body)
	}
}

func TestUpsertCommentWhenTheCommentWasDeletedMeanwhile(t *testing.T) {
	var gh *githubtest.Server
	e := setup(t, func(o *forge.Options) {
		o.HTTPTransport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if r.Method == "PATCH" {
				for _, c := range gh.Comments("acme/gcc", 7) {
					gh.DeleteComment("acme/gcc", c.ID)
				}
			}
			return http.DefaultTransport.RoundTrip(r)
		})
	})
	gh = e.gh
	e.gh.AddComment("acme/gcc", 7, githubtest.BotLogin, report("old"))

	_, created, err := e.c.UpsertComment(context.Background(), acme, 7, marker, report("new"))
	if err != nil || !created {
		t.Fatalf("UpsertComment: created %v, err %v; want a new comment", created, err)
	}
	if cs := e.gh.Comments("acme/gcc", 7); len(cs) != 1 || cs[0].Body != report("new") {
		t.Errorf("comments = %+v, want just the new report", cs)
	}
}

func TestUpsertCommentNeedsTheMarkerInTheBody(t *testing.T) {
	e := setup(t)
	_, _, err := e.c.UpsertComment(context.Background(), acme, 7, marker, "no marker here")
	if err == nil || !strings.Contains(err.Error(), "marker") {
		t.Fatalf("err = %v, want a complaint about the marker", err)
	}
	if n := len(e.gh.Calls()); n != 0 {
		t.Errorf("%d calls, want none", n)
	}
}

func TestConcurrentUpsertsPostOneComment(t *testing.T) {
	e := setup(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if _, _, err := e.c.UpsertComment(context.Background(), acme, 7, marker, report(fmt.Sprint("run ", i))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if cs := e.gh.Comments("acme/gcc", 7); len(cs) != 1 {
		t.Errorf("%d comments, want 1", len(cs))
	}
}

func TestCommentOnUnknownPullRequest(t *testing.T) {
	e := setup(t)
	_, _, err := e.c.UpsertComment(context.Background(), acme, 99, marker, report("x"))
	if err == nil || !strings.HasPrefix(err.Error(), "find comment on acme/gcc#99: ") || !forge.IsNotFound(err) {
		t.Fatalf("err = %v, want a not-found error naming acme/gcc#99", err)
	}
}

func TestErrorsNameOperationAndRepository(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	id := e.gh.AddComment("acme/gcc", 7, githubtest.BotLogin, report("old"))
	e.gh.Fail("PATCH", "", 1, http.StatusUnprocessableEntity, nil)
	_, _, err := e.c.UpsertComment(ctx, acme, 7, marker, report("new"))
	want := fmt.Sprintf("update comment %d on acme/gcc#7: ", id)
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("err = %v, want it to start %q", err, want)
	}

	e.gh.Fail("PATCH", "", 1, http.StatusUnprocessableEntity, nil)
	err = e.c.EditComment(ctx, acme, id, "x")
	want = fmt.Sprintf("update comment %d on acme/gcc: ", id)
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("err = %v, want it to start %q", err, want)
	}
}

func TestReactions(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	id := e.gh.AddComment("acme/gcc", 7, "maintainer", "/tcbot rerun")
	for _, content := range []string{"eyes", "eyes", "+1"} {
		if err := e.c.React(ctx, acme, id, content); err != nil {
			t.Fatalf("React %s: %v", content, err)
		}
	}
	if got := e.gh.Reactions("acme/gcc", id); strings.Join(got, ",") != "eyes,+1" {
		t.Errorf("reactions = %q, want eyes and +1 (a repeated reaction is one)", got)
	}

	calls := len(e.gh.Calls())
	if err := e.c.React(ctx, acme, id, "thumbsup"); err == nil {
		t.Error("React thumbsup: no error, want an unknown reaction refused")
	}
	if len(e.gh.Calls()) != calls {
		t.Error("an unknown reaction was sent to GitHub")
	}
	if err := e.c.React(ctx, acme, 424242, "eyes"); !forge.IsNotFound(err) {
		t.Errorf("React on a missing comment: %v, want not found", err)
	}
}
