package dbtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// debianBin is where Debian 12's postgresql-15 package puts the server
// programs; they are not on PATH there.
const debianBin = "/usr/lib/postgresql/15/bin"

// serverConf is appended to the throwaway server's postgresql.conf. fsync,
// synchronous_commit and full_page_writes are off for speed: acceptable only
// because the cluster is deleted when the test process ends.
const serverConf = `
# Added by the Trustward test harness (internal/db/dbtest). Throwaway only.
listen_addresses = '127.0.0.1'
unix_socket_directories = '%s'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
logging_collector = off
`

// EnvDurable, set to 1, makes the throwaway server durable (fsync on), for
// benchmarks that measure commits; tests keep it off for speed.
const EnvDurable = "TRUSTWARD_TEST_PG_DURABLE"

const durableConf = `
# Durable, as in production (TRUSTWARD_TEST_PG_DURABLE=1).
fsync = on
synchronous_commit = on
full_page_writes = on
`

// watchdogScript stops the server and deletes its folder once its standard
// input reaches end of file, which happens when the process holding the
// other end of the pipe (the test process) closes it or dies, however it
// dies: killed, timed out or crashed. Arguments: pg_ctl, folder.
const watchdogScript = `cat >/dev/null
"$1" stop -D "$2/data" -m immediate -s >/dev/null 2>&1
rm -rf "$2"
`

// Server is a throwaway PostgreSQL server in a temporary folder, listening on
// 127.0.0.1 and trusting every local connection.
//
// Why a watchdog process: the postmaster detaches from the test process
// (pg_ctl puts it in a session of its own), so a cleanup in the test process
// alone would leave servers behind whenever a test binary is killed, for
// example by go test's -timeout. StartServer therefore first starts a small
// shell, in its own session and as the server's user, whose standard input
// is a pipe whose only writer is this process; when the pipe closes, the
// shell runs pg_ctl stop -m immediate and deletes the folder. Stop closes
// the pipe and waits for the shell; a dying process closes it implicitly.
type Server struct {
	url      string
	dir      string
	lifeline *os.File
	watchdog *exec.Cmd
}

// URL returns the server's URL for the superuser "postgres" and the database
// "postgres".
func (s *Server) URL() string { return s.url }

// Stop stops the server immediately and deletes its folder.
func (s *Server) Stop() error {
	if s.lifeline == nil {
		return nil
	}
	s.lifeline.Close()
	s.lifeline = nil
	done := make(chan error, 1)
	go func() { done <- s.watchdog.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("stop PostgreSQL in %s: %w", s.dir, err)
		}
		return nil
	case <-time.After(60 * time.Second):
		return fmt.Errorf("stop PostgreSQL in %s: no answer after 60 s", s.dir)
	}
}

// StartServer initialises and starts a throwaway PostgreSQL server. When run
// as root it runs the server as the system user "postgres" (created by
// Debian's postgresql package), or else as "trustward-pg", which it creates,
// because PostgreSQL refuses to run as root.
func StartServer(ctx context.Context) (*Server, error) {
	initdb, pgctl, err := findPostgres()
	if err != nil {
		return nil, err
	}
	cred, err := serverCredential(ctx)
	if err != nil {
		return nil, err
	}
	base := os.TempDir()
	if cred != nil {
		// The server's user must reach the folder; a root TMPDIR is often
		// private to root, while /tmp is open to all on every Unix.
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "twpg-")
	if err != nil {
		return nil, fmt.Errorf("start PostgreSQL: %w", err)
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("start PostgreSQL: %w", err)
		}
	}
	s := &Server{dir: dir}
	if err := s.startWatchdog(pgctl, cred); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.start(ctx, initdb, pgctl, cred); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) startWatchdog(pgctl string, cred *syscall.Credential) error {
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("start PostgreSQL watchdog: %w", err)
	}
	cmd := exec.Command("/bin/sh", "-c", watchdogScript, "trustward-pg-watchdog", pgctl, s.dir)
	cmd.Dir = s.dir
	cmd.Stdin = r
	// Stdout and Stderr stay nil (/dev/null): holding go test's output pipe
	// would make it wait for the watchdog.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: cred}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return fmt.Errorf("start PostgreSQL watchdog: %w", err)
	}
	r.Close()
	s.lifeline, s.watchdog = w, cmd
	return nil
}

func (s *Server) start(ctx context.Context, initdb, pgctl string, cred *syscall.Credential) error {
	data := filepath.Join(s.dir, "data")
	if out, err := s.run(ctx, cred, initdb, "-D", data, "-U", "postgres", "--auth=trust",
		"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	// Append as ourselves: the file keeps its owner.
	f, err := os.OpenFile(filepath.Join(data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("configure PostgreSQL: %w", err)
	}
	_, err = fmt.Fprintf(f, serverConf, s.dir)
	if err == nil && os.Getenv(EnvDurable) == "1" {
		// Benchmarks of durability need the production settings; later
		// lines of postgresql.conf win.
		_, err = fmt.Fprint(f, durableConf)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("configure PostgreSQL: %w", err)
	}
	logFile := filepath.Join(s.dir, "server.log")
	// A free port can be taken between our probe and the server's bind;
	// try a few.
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return fmt.Errorf("start PostgreSQL: %w", err)
		}
		out, err := s.run(ctx, cred, pgctl, "start", "-w", "-t", "60", "-s",
			"-D", data, "-l", logFile, "-o", "-p "+strconv.Itoa(port))
		if err == nil {
			s.url = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
			return nil
		}
		serverLog, _ := os.ReadFile(logFile)
		lastErr = fmt.Errorf("pg_ctl start: %w\n%s\n%s", err, out, tail(serverLog, 2000))
		if !bytes.Contains(serverLog, []byte("could not bind")) && !bytes.Contains(serverLog, []byte("already in use")) {
			break
		}
	}
	return lastErr
}

// run runs a PostgreSQL program as the server's user in the server's folder.
func (s *Server) run(ctx context.Context, cred *syscall.Credential, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = s.dir
	cmd.Env = append(cleanEnv(), "LC_ALL=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	// pg_ctl -l sends the postmaster's output to the log file, so the
	// postmaster does not hold our pipe; WaitDelay guards against it anyway.
	cmd.WaitDelay = 5 * time.Second
	return cmd.CombinedOutput()
}

// cleanEnv drops the PG* variables of the caller, which would otherwise
// steer initdb and pg_ctl (PGDATA, PGPORT, PGUSER...).
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") && !strings.HasPrefix(kv, "LC_") && !strings.HasPrefix(kv, "LANG") {
			env = append(env, kv)
		}
	}
	return env
}

func findPostgres() (initdb, pgctl string, err error) {
	if isExecutable(filepath.Join(debianBin, "initdb")) && isExecutable(filepath.Join(debianBin, "pg_ctl")) {
		return filepath.Join(debianBin, "initdb"), filepath.Join(debianBin, "pg_ctl"), nil
	}
	initdb, err1 := exec.LookPath("initdb")
	pgctl, err2 := exec.LookPath("pg_ctl")
	if err := errors.Join(err1, err2); err != nil {
		return "", "", fmt.Errorf("PostgreSQL not found in %s or on PATH (install the Debian package postgresql, or set TRUSTWARD_TEST_PG): %w", debianBin, err)
	}
	return initdb, pgctl, nil
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// serverCredential returns the user to run the server as: nil (ourselves)
// unless we are root.
func serverCredential(ctx context.Context) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		u, err = user.Lookup("trustward-pg")
	}
	if err != nil {
		out, uerr := exec.CommandContext(ctx, "useradd", "--system", "--user-group",
			"--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", "trustward-pg").CombinedOutput()
		// Another test process may have created it meanwhile: look again
		// before reporting the error.
		u, err = user.Lookup("trustward-pg")
		if err != nil {
			return nil, fmt.Errorf("PostgreSQL refuses to run as root and no user postgres or trustward-pg could be made: %v: %s", uerr, out)
		}
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("user %s: %w", u.Username, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
