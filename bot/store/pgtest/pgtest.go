// Package pgtest gives tests a real PostgreSQL database.
//
// With TCBOT_TEST_POSTGRES set (a URL of a server where the user may
// create databases, as `.ci/run` exports for the cluster it starts), each
// call makes a fresh database there. Without it, the first call starts a
// throwaway cluster (initdb and pg_ctl from PostgreSQL's bin directory, as
// the postgres user when running as root) in a temporary directory on a
// free loopback port; Main stops it when the package's tests end.
//
// PostgreSQL missing is a test failure, not a skip: the project's CI and
// `make test` install it.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Env names the variable holding an existing server's URL.
const Env = "TCBOT_TEST_POSTGRES"

var (
	mu      sync.Mutex
	cluster *Cluster
	started error
)

// Cluster is a throwaway PostgreSQL cluster.
type Cluster struct {
	Dir  string
	Port int
	URL  string // to the "postgres" database as superuser tcbot
	bin  string
	as   []string // runuser prefix when root
}

// Main runs a package's tests and stops the cluster they started.
func Main(m interface{ Run() int }) {
	code := m.Run()
	mu.Lock()
	if cluster != nil {
		cluster.Stop()
	}
	mu.Unlock()
	os.Exit(code)
}

// URL returns the URL of a fresh, empty database for one test; the
// database is dropped when the test ends.
func URL(t testing.TB) string {
	t.Helper()
	base, err := server()
	if err != nil {
		t.Fatalf("PostgreSQL for tests: %v", err)
	}
	name := "t_" + randHex(6)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("PostgreSQL for tests: connect %s: %v", base, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("PostgreSQL for tests: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, base); err == nil {
			_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			c.Close(ctx)
		}
	})
	u, _ := url.Parse(base)
	u.Path = "/" + name
	return u.String()
}

// server returns the URL of the server tests use, starting a cluster the
// first time when none is given.
func server() (string, error) {
	if u := os.Getenv(Env); u != "" {
		return u, nil
	}
	mu.Lock()
	defer mu.Unlock()
	if cluster == nil && started == nil {
		cluster, started = Start()
	}
	if started != nil {
		return "", started
	}
	return cluster.URL, nil
}

// Start initialises and starts a cluster in a new temporary directory.
func Start() (*Cluster, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	reapStale(bin)
	dir, err := os.MkdirTemp("", "tcbot-pg-")
	if err != nil {
		return nil, err
	}
	// The owner's PID, so a later run can stop this cluster if the test
	// binary dies without stopping it (a timeout panics past Main).
	if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root and there is no postgres user to run PostgreSQL as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
		c.as = []string{"runuser", "-u", "postgres", "--"}
	}
	data := filepath.Join(dir, "data")
	if out, err := c.run(filepath.Join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "tcbot", "-E", "UTF8", "--no-sync"); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	for attempt := 0; ; attempt++ {
		c.Port = freePort()
		opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", c.Port, dir)
		out, err := c.run(filepath.Join(bin, "pg_ctl"), "-D", data, "-l", filepath.Join(dir, "log"), "-o", opts, "-w", "-t", "60", "start")
		if err == nil {
			break
		}
		if attempt == 2 {
			log, _ := os.ReadFile(filepath.Join(dir, "log"))
			return nil, fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
		}
	}
	c.URL = fmt.Sprintf("postgres://tcbot@127.0.0.1:%d/postgres?sslmode=disable", c.Port)
	return c, nil
}

// reapStale stops and removes the clusters of test processes that died
// without stopping them.
func reapStale(bin string) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "tcbot-pg-*"))
	for _, dir := range dirs {
		data, err := os.ReadFile(filepath.Join(dir, "owner"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if kerr := syscall.Kill(pid, 0); kerr == nil || errors.Is(kerr, syscall.EPERM) {
			continue // its owner is alive
		}
		c := &Cluster{Dir: dir, bin: bin}
		if os.Geteuid() == 0 {
			c.as = []string{"runuser", "-u", "postgres", "--"}
		}
		c.Stop()
	}
}

// Stop stops the cluster and removes its directory.
func (c *Cluster) Stop() {
	_, _ = c.run(filepath.Join(c.bin, "pg_ctl"), "-D", filepath.Join(c.Dir, "data"), "-m", "immediate", "-w", "stop")
	_ = os.RemoveAll(c.Dir)
}

func (c *Cluster) run(name string, args ...string) ([]byte, error) {
	argv := append(append([]string{}, c.as...), name)
	argv = append(argv, args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = c.Dir
	return cmd.CombinedOutput()
}

// binDir finds PostgreSQL's server programs.
func binDir() (string, error) {
	if d := os.Getenv("PG_BINDIR"); d != "" {
		return d, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(matches) > 0 {
		return filepath.Dir(matches[len(matches)-1]), nil
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("PostgreSQL's server programs (initdb, pg_ctl) were not found: install the postgresql package (make test-deps does), set PG_BINDIR, or set %s to a server's URL", Env)
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 54329
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return strings.ToLower(hex.EncodeToString(b))
}
