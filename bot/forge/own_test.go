package forge_test

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/tcbot/tcbot/bot/forge"
	"github.com/tcbot/tcbot/bot/forge/githubtest"
)

// hostile is what anyone can comment: tcbot's markers, with a state that
// would make a regression report edit itself in place.
const hostile = "LGTM <!-- tcbot:report --><!-- tcbot:state head=0 verdict=regression -->"

// as returns a client for user login, with a personal access token of
// their own on e's stand-in.
func (e *env) as(t *testing.T, login string) *forge.Client {
	t.Helper()
	tok := "ghp_" + strings.NewReplacer("[", "_", "]", "_").Replace(login)
	e.gh.AddToken(tok, login)
	log := logrus.New()
	log.SetOutput(io.Discard)
	c, err := forge.New(forge.Options{APIURL: e.gh.URL(), Token: tok, Log: log, Sleep: e.clock.Sleep, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLogin(t *testing.T) {
	ctx := context.Background()
	t.Run("a personal access token is named by GET /user, once", func(t *testing.T) {
		e := setup(t)
		for range 2 {
			if login, err := e.c.Login(ctx); err != nil || login != githubtest.BotLogin {
				t.Fatalf("Login = %q, %v; want %q", login, err, githubtest.BotLogin)
			}
		}
		if _, _, _, err := e.c.FindComment(ctx, acme, 7, marker); err != nil {
			t.Fatal(err)
		}
		if n := e.calls("GET", "/user"); n != 1 {
			t.Errorf("GET /user %d times, want once", n)
		}
	})
	t.Run("an App installation token is named by GraphQL's viewer", func(t *testing.T) {
		e := setup(t)
		e.gh.AddAppToken("ghs_installation", "perfbot[bot]")
		c, err := forge.New(forge.Options{APIURL: e.gh.URL(), Token: "ghs_installation", Sleep: e.clock.Sleep, Now: e.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		if login, err := c.Login(ctx); err != nil || login != "perfbot[bot]" {
			t.Fatalf("Login = %q, %v; want perfbot[bot]", login, err)
		}
		if e.calls("GET", "/user") != 1 || e.calls("POST", "/graphql") != 1 {
			t.Errorf("calls %+v, want GET /user refused, then POST /graphql", e.gh.Calls())
		}
	})
	t.Run("GitHub Enterprise Server's GraphQL is at /api/graphql", func(t *testing.T) {
		e := setup(t)
		e.gh.AddAppToken("ghs_installation", "perfbot[bot]")
		var paths []string
		c, err := forge.New(forge.Options{
			APIURL: e.gh.URL() + "api/v3/", Token: "ghs_installation", Sleep: e.clock.Sleep, Now: e.clock.Now,
			// The stand-in serves at its root: take the prefixes off.
			HTTPTransport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				paths = append(paths, r.URL.Path)
				r.URL.Path = strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/api/v3"), "/api")
				return http.DefaultTransport.RoundTrip(r)
			}),
		})
		if err != nil {
			t.Fatal(err)
		}
		if login, err := c.Login(ctx); err != nil || login != "perfbot[bot]" {
			t.Fatalf("Login = %q, %v", login, err)
		}
		if strings.Join(paths, " ") != "/api/v3/user /api/graphql" {
			t.Errorf("paths %q, want /api/v3/user then /api/graphql", paths)
		}
	})
	t.Run("5xx is retried", func(t *testing.T) {
		e := setup(t)
		e.gh.Fail("GET", "/user", 2, http.StatusBadGateway, nil)
		if login, err := e.c.Login(ctx); err != nil || login != githubtest.BotLogin {
			t.Fatalf("Login = %q, %v", login, err)
		}
		wantWaits(t, e, 2)
	})
	t.Run("a failure is a clear error, and not remembered", func(t *testing.T) {
		e := setup(t)
		e.gh.Fail("GET", "/user", 1, http.StatusUnauthorized, nil)
		_, err := e.c.Login(ctx)
		if err == nil || !strings.Contains(err.Error(), "GET /user") || !strings.Contains(err.Error(), "401") {
			t.Errorf("err = %v, want one naming GET /user and the 401", err)
		}
		if login, err := e.c.Login(ctx); err != nil || login != githubtest.BotLogin {
			t.Errorf("Login after the failure = %q, %v; want it asked again", login, err)
		}
	})
	t.Run("no lookup by marker without the login", func(t *testing.T) {
		e := setup(t)
		e.gh.AddComment("acme/gcc", 7, githubtest.BotLogin, report("old"))
		e.gh.Fail("GET", "/user", 1, http.StatusForbidden, nil)
		e.gh.Fail("POST", "/graphql", 1, http.StatusForbidden, nil)
		if _, _, found, err := e.c.FindComment(ctx, acme, 7, marker); err == nil || found {
			t.Errorf("FindComment without a login: found %v, err %v; want an error", found, err)
		}
	})
}

func TestOthersCommentsWithTheMarkerAreIgnored(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	mallory := e.as(t, "mallory")
	// tcbot's token has write access, so GitHub itself would let it edit
	// mallory's comment: only tcbot can tell it is not its own.
	if _, err := mallory.CreateComment(ctx, acme, 7, hostile); err != nil {
		t.Fatal(err)
	}
	if _, _, found, err := e.c.FindComment(ctx, acme, 7, marker); err != nil || found {
		t.Fatalf("FindComment found mallory's comment (found %v, err %v)", found, err)
	}
	own, created, err := e.c.UpsertComment(ctx, acme, 7, marker, report("regression"))
	if err != nil || !created {
		t.Fatalf("UpsertComment = %d, created %v, %v; want tcbot's own comment created", own, created, err)
	}
	// Mallory again, after tcbot: the newest marked comment is still tcbot's.
	if _, err := mallory.CreateComment(ctx, acme, 7, hostile); err != nil {
		t.Fatal(err)
	}
	id, body, found, err := e.c.FindComment(ctx, acme, 7, marker)
	if err != nil || !found || id != own || body != report("regression") {
		t.Fatalf("FindComment = %d, %q, %v, %v; want tcbot's comment %d", id, body, found, err, own)
	}
	if id, created, err := e.c.UpsertComment(ctx, acme, 7, marker, report("regression, rerun")); err != nil || created || id != own {
		t.Fatalf("UpsertComment = %d, created %v, %v; want tcbot's comment %d edited", id, created, err, own)
	}
	for _, c := range e.gh.Comments("acme/gcc", 7) {
		switch {
		case c.User == "mallory" && (c.Body != hostile || c.Edits != 0):
			t.Errorf("mallory's comment %d was edited: %q", c.ID, c.Body)
		case c.User == githubtest.BotLogin && c.Body != report("regression, rerun"):
			t.Errorf("tcbot's comment %d reads %q", c.ID, c.Body)
		}
	}
}

func TestOthersCommentIsNotTakenForAPostThatFailed(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	// Mallory posts what tcbot is about to post, then tcbot's POST fails
	// unapplied with a 502: the look before posting again must not take
	// mallory's comment for tcbot's.
	if _, err := e.as(t, "mallory").CreateComment(ctx, acme, 7, "Unknown command `x`."); err != nil {
		t.Fatal(err)
	}
	e.gh.Fail("POST", commentsPath, 1, http.StatusBadGateway, nil)
	id, err := e.c.CreateComment(ctx, acme, 7, "Unknown command `x`.")
	if err != nil {
		t.Fatal(err)
	}
	cs := e.gh.Comments("acme/gcc", 7)
	if len(cs) != 2 || cs[1].ID != id || cs[1].User != githubtest.BotLogin {
		t.Errorf("comments %+v; want mallory's, then tcbot's %d", cs, id)
	}
}

func TestOthersIssuesWithTheMarkerAreIgnored(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	const mark = "<!-- tcbot:sweep nightly gcc main -->"
	// Labelled tcbot by someone with triage access, or opened by one.
	theirs := e.gh.AddIssue("acme/gcc", "mallory", "tcbot: regression", mark+"\nclose me", forge.IssueLabel)
	n, created, err := e.c.UpsertIssue(ctx, acme, mark, "tcbot: regression on gcc main", mark+"\n+8%")
	if err != nil || !created || n == theirs {
		t.Fatalf("UpsertIssue = #%d, created %v, %v; want a new issue of tcbot's, not #%d", n, created, err, theirs)
	}
	closed, err := e.c.CloseIssue(ctx, acme, mark, "Clean again.")
	if err != nil || !closed {
		t.Fatalf("CloseIssue = %v, %v", closed, err)
	}
	for _, is := range e.gh.Issues("acme/gcc") {
		switch is.Number {
		case theirs:
			if is.State != "open" || is.Body != mark+"\nclose me" || is.Title != "tcbot: regression" || len(is.Comments) != 0 {
				t.Errorf("mallory's issue was touched: %+v", is)
			}
		case n:
			if is.State != "closed" || is.Author != githubtest.BotLogin || strings.Join(is.Comments, "|") != "Clean again." {
				t.Errorf("tcbot's issue %+v, want closed with one comment", is)
			}
		}
	}
	if closed, err := e.c.CloseIssue(ctx, acme, mark, "Clean again."); err != nil || closed {
		t.Errorf("CloseIssue with only mallory's open = %v, %v; want nothing to close", closed, err)
	}
}

func TestLongBodiesAreCut(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	// 200 KB of a report, in lines, with characters of two bytes.
	big := marker + "\n<!-- tcbot:state head=1 verdict=regression -->\n" + strings.Repeat("| é | é | é | é | é | é | é | é | é |\n", 5000)
	fits := func(what, body string) {
		t.Helper()
		if n := len([]rune(body)); n > forge.MaxBody {
			t.Errorf("%s: %d characters, over GitHub's %d", what, n, forge.MaxBody)
		}
		if !strings.HasSuffix(body, "see the tcbot dashboard for the full report\n") {
			t.Errorf("%s ends %q, want the note", what, body[len(body)-100:])
		}
	}

	id, created, err := e.c.UpsertComment(ctx, acme, 7, marker, big)
	if err != nil || !created {
		t.Fatalf("UpsertComment of 200 KB: %v, %v", created, err)
	}
	c := e.gh.Comments("acme/gcc", 7)[0]
	fits("report", c.Body)
	if !strings.HasPrefix(c.Body, marker+"\n<!-- tcbot:state head=1 verdict=regression -->\n| é |") {
		t.Errorf("the cut report lost its markers: %q", c.Body[:100])
	}
	if _, _, err := e.c.UpsertComment(ctx, acme, 7, marker, big); err != nil || e.calls("PATCH", "/") != 0 {
		t.Errorf("the same long report again: %v, %d edits; want none (it already reads so)", err, e.calls("PATCH", "/"))
	}
	if err := e.c.EditComment(ctx, acme, id, big+"x"); err != nil {
		t.Errorf("EditComment of 200 KB: %v", err)
	}
	fits("edited report", e.gh.Comments("acme/gcc", 7)[0].Body)

	reply := strings.Repeat("Unknown command `frobnicate`.\n", 7000)
	if _, err := e.c.CreateComment(ctx, acme, 7, reply); err != nil {
		t.Fatalf("CreateComment of 200 KB: %v", err)
	}
	fits("reply", e.gh.Comments("acme/gcc", 7)[1].Body)

	const mark = "<!-- tcbot:sweep nightly gcc main -->"
	if _, _, err := e.c.UpsertIssue(ctx, acme, mark, strings.Repeat("long title ", 50), mark+"\n"+reply); err != nil {
		t.Fatalf("UpsertIssue of 200 KB: %v", err)
	}
	is := e.gh.Issues("acme/gcc")[0]
	fits("issue", is.Body)
	if len([]rune(is.Title)) > 256 {
		t.Errorf("issue title of %d characters", len([]rune(is.Title)))
	}
	if _, err := e.c.CloseIssue(ctx, acme, mark, reply); err != nil {
		t.Fatalf("CloseIssue with a 200 KB comment: %v", err)
	}
	fits("closing comment", e.gh.Issues("acme/gcc")[0].Comments[0])
}

func TestCapBody(t *testing.T) {
	const url = "https://tcbot.example.org/changes/42"
	head := "<!-- tcbot:report -->\n<!-- tcbot:state head=abc verdict=regression -->\n"
	table := "| a | b |\n| :-- | --: |\n" + strings.Repeat("| benchmark | +1.00% |\n", 10000)
	tests := []struct {
		name, body, url string
		check           func(t *testing.T, got string)
	}{{
		name: "a body that fits is left alone",
		body: head + "short", url: url,
		check: func(t *testing.T, got string) {
			if got != head+"short" {
				t.Errorf("got %q", got)
			}
		},
	}, {
		name: "exactly the limit fits",
		body: strings.Repeat("é", forge.MaxBody), url: url,
		check: func(t *testing.T, got string) {
			if got != strings.Repeat("é", forge.MaxBody) {
				t.Error("a body of exactly MaxBody characters was cut")
			}
		},
	}, {
		name: "a long report keeps its hidden lines and whole lines, and links to the full one",
		body: head + table, url: url,
		check: func(t *testing.T, got string) {
			kept, note, ok := strings.Cut(got, "\n\n… report cut at ")
			if !ok || !strings.HasPrefix(kept, head+"| a | b |\n") || !strings.HasSuffix(kept, "| benchmark | +1.00% |\n") {
				t.Errorf("kept part %q…%q", kept[:80], kept[len(kept)-40:])
			}
			if want := strings.TrimSuffix(note, " characters: the full report is at "+url+"\n"); want == note || want != strconv.Itoa(len([]rune(kept))) {
				t.Errorf("note %q, want the characters kept (%d) and the URL", note, len([]rune(kept)))
			}
		},
	}, {
		name: "without a URL the note points at the dashboard",
		body: head + table,
		check: func(t *testing.T, got string) {
			if !strings.HasSuffix(got, ", GitHub's limit: see the tcbot dashboard for the full report\n") {
				t.Errorf("ends %q", got[len(got)-100:])
			}
		},
	}, {
		name: "one huge line is cut inside",
		body: head + strings.Repeat("x", 200_000), url: url,
		check: func(t *testing.T, got string) {
			if n := strings.Count(got, "x"); n < forge.MaxBody-200 {
				t.Errorf("kept %d characters of the line, want nearly all GitHub takes", n)
			}
		},
	}, {
		name: "an open code block and details are closed before the note",
		body: head + "<details><summary>all</summary>\n\n```sh\n" + strings.Repeat("log line\n", 20000) + "```\n</details>\n", url: url,
		check: func(t *testing.T, got string) {
			if !strings.Contains(got, "log line\n```\n\n</details>\n\n\n… report cut at ") {
				t.Errorf("ends %q", got[len(got)-150:])
			}
		},
	}, {
		name: "characters, not bytes, are counted",
		body: head + strings.Repeat("😀\n", 40000), url: url,
		check: func(t *testing.T, got string) {
			if n := len([]rune(got)); n < forge.MaxBody-100 {
				t.Errorf("%d characters: cut by bytes?", n)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := forge.CapBody(tt.body, tt.url)
			if n := len([]rune(got)); n > forge.MaxBody {
				t.Fatalf("%d characters, over %d", n, forge.MaxBody)
			}
			tt.check(t, got)
		})
	}
}
