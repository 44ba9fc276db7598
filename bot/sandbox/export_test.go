package sandbox

import "os/exec"

// UseUtilLinux makes s start commands through prlimit, setpriv and env, as
// on a host without a C compiler for the init program.
func UseUtilLinux(s *Sandbox) error {
	if err := s.locate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	s.init = ""
	if s.prlimit, err = exec.LookPath("prlimit"); err != nil {
		return err
	}
	s.setpriv, err = exec.LookPath("setpriv")
	return err
}
