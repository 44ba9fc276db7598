package lava

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"sync"
	"time"
)

// ArtifactServer serves the files of LAVA jobs (kernel, ramdisk) over
// HTTP to the lab's workers. Each run publishes its files under a fresh
// unguessable prefix (/a/<256 random bits>/<name>) and withdraws them when
// it is over; every other path, and any method but GET and HEAD, is a 404.
// It is safe for concurrent use.
type ArtifactServer struct {
	// Listen is the address to listen on ("127.0.0.1:0", "0.0.0.0:8090").
	Listen string
	// URL is how LAVA's workers reach the server ("http://tcbot.lab:8090/");
	// empty means http://<the address it listens on>/.
	URL string

	mu    sync.Mutex
	ln    net.Listener
	srv   *http.Server
	base  *url.URL
	runs  map[string]map[string]string // prefix -> name -> host path
	users int
}

// Publication is the files of one run on an ArtifactServer.
type Publication struct {
	s      *ArtifactServer
	prefix string
	names  []string
}

// shared holds one ArtifactServer per listen address, so the targets of a
// process that name the same address share its listener.
var shared = struct {
	sync.Mutex
	m map[string]*ArtifactServer
}{m: map[string]*ArtifactServer{}}

// sharedServer returns the process's server for listen (starting it) and
// counts one more user of it; release it with (*ArtifactServer).release.
func sharedServer(listen, publicURL string) (*ArtifactServer, error) {
	shared.Lock()
	defer shared.Unlock()
	key := listen
	if strings.HasSuffix(listen, ":0") {
		key = "" // a fresh port for every user
	}
	if s := shared.m[key]; s != nil && key != "" {
		if publicURL != "" && publicURL != s.URL {
			return nil, fmt.Errorf("artifact server %s: served as %s and as %s; give both targets the same artifact_url", listen, s.URL, publicURL)
		}
		s.mu.Lock()
		s.users++
		s.mu.Unlock()
		return s, nil
	}
	s := &ArtifactServer{Listen: listen, URL: publicURL}
	if err := s.Start(); err != nil {
		return nil, err
	}
	s.users = 1
	if key != "" {
		shared.m[key] = s
	}
	return s, nil
}

// release drops one user of a shared server and stops it after the last.
func (s *ArtifactServer) release() {
	shared.Lock()
	defer shared.Unlock()
	s.mu.Lock()
	s.users--
	last := s.users <= 0
	s.mu.Unlock()
	if !last {
		return
	}
	if shared.m[s.Listen] == s {
		delete(shared.m, s.Listen)
	}
	_ = s.Close()
}

// Start listens and serves in the background.
func (s *ArtifactServer) Start() error {
	ln, err := net.Listen("tcp", s.Listen)
	if err != nil {
		return fmt.Errorf("artifact server: listen on %s: %w", s.Listen, err)
	}
	pub := s.URL
	if pub == "" {
		pub = "http://" + ln.Addr().String() + "/"
	}
	base, err := url.Parse(pub)
	if err != nil || base.Host == "" || (base.Scheme != "http" && base.Scheme != "https") {
		ln.Close()
		return fmt.Errorf("artifact server: url %q: want http://host:port/ as LAVA's workers reach this tcbot", pub)
	}
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
	}
	s.mu.Lock()
	s.ln, s.base, s.URL = ln, base, base.String()
	s.runs = map[string]map[string]string{}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 30 * time.Second}
	srv := s.srv
	s.mu.Unlock()
	go srv.Serve(ln)
	return nil
}

// Addr is the address the server listens on.
func (s *ArtifactServer) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Close stops the server; published files are no longer served.
func (s *ArtifactServer) Close() error {
	s.mu.Lock()
	srv := s.srv
	s.srv, s.runs = nil, nil
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Close()
}

// Publish makes files (name in the URL -> host path) reachable under a
// fresh prefix until the Publication is withdrawn.
func (s *ArtifactServer) Publish(files map[string]string) (*Publication, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, err
	}
	prefix := base64.RawURLEncoding.EncodeToString(raw[:])
	m := map[string]string{}
	p := &Publication{s: s, prefix: prefix}
	for name, file := range files {
		if name == "" || strings.ContainsAny(name, "/\\") || name == "." || name == ".." {
			return nil, fmt.Errorf("artifact name %q: want a plain file name", name)
		}
		m[name] = file
		p.names = append(p.names, name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runs == nil {
		return nil, errors.New("artifact server is not running")
	}
	s.runs[prefix] = m
	return p, nil
}

// URL is where LAVA downloads the published file name.
func (p *Publication) URL(name string) string {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	u := *p.s.base
	u.Path = path.Join(u.Path, "a", p.prefix, name)
	return u.String()
}

// Withdraw stops serving the publication's files. Safe to call twice.
func (p *Publication) Withdraw() {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	delete(p.s.runs, p.prefix)
}

// ServeHTTP serves GET and HEAD of /a/<prefix>/<name> for published files
// and 404 for everything else, without saying why.
func (s *ArtifactServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	var file string
	if s.base != nil {
		rest, ok := strings.CutPrefix(r.URL.Path, s.base.Path+"a/")
		if !ok {
			rest, ok = strings.CutPrefix(r.URL.Path, "/a/") // behind a proxy that strips the base path
		}
		if prefix, name, found := strings.Cut(rest, "/"); ok && found {
			file = s.runs[prefix][name]
		}
	}
	s.mu.Unlock()
	if file == "" {
		http.NotFound(w, r)
		return
	}
	f, err := os.Open(file)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "no-store")
	http.ServeContent(w, r, "", st.ModTime(), f)
}
