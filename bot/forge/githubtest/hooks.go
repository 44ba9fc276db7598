package githubtest

import "net/http"

// hook runs a test's function before the stand-in answers a request.
type hook struct {
	method, prefix string
	n              int
	fn             func()
}

// Before runs fn (once per request, for the next n requests matching
// method and path prefix) before answering them: what happens on GitHub
// while tcbot waits for an answer, such as a push between a command's
// comment and the permission check.
func (s *Server) Before(method, pathPrefix string, n int, fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks = append(s.hooks, &hook{method: method, prefix: pathPrefix, n: n, fn: fn})
}

func (s *Server) runHooks(req *http.Request) {
	s.mu.Lock()
	var fns []func()
	for _, h := range s.hooks {
		if h.n > 0 && matches(h.method, h.prefix, req) {
			h.n--
			fns = append(fns, h.fn)
		}
	}
	s.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}
