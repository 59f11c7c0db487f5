package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childEnv names the environment variable that makes the test binary run cdtsync's Main
// with the unit-separator-separated (0x1f) arguments it holds, instead of the tests: the crash test runs the
// real server as a child process it can kill -9.
const childEnv = "CDTSYNC_TEST_CHILD_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(childEnv); args != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := NewMain().Run(ctx, strings.Split(args, "\x1f"))
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "cdtsync:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child is the real cdtsync running as a separate process.
type child struct {
	cmd  *exec.Cmd
	URL  string
	done chan error
	out  *bytes.Buffer
}

var servingRE = regexp.MustCompile(`serving at (http://\S+)`)

// startChild runs `cdtsync <args…>` as a child process and waits until it serves.
func startChild(t testing.TB, args ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+strings.Join(args, "\x1f"), "CDTSYNC_LOG_LEVEL=warn")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, done: make(chan error, 1), out: &stderr}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() { c.done <- cmd.Wait() }()
	select {
	case c.URL = <-found:
	case err := <-c.done:
		t.Fatalf("cdtsync exited before serving: %v\n%s", err, stderr.String())
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("cdtsync did not start serving\n%s", stderr.String())
	}
	return c
}

// kill sends SIGKILL and waits for the process to be gone.
func (c *child) kill() {
	c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

// stop sends SIGTERM and waits for a graceful exit.
func (c *child) stop(t testing.TB) {
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-c.done:
		if err != nil {
			t.Errorf("cdtsync exited with %v\n%s", err, c.out.String())
		}
	case <-time.After(30 * time.Second):
		c.kill()
		t.Error("cdtsync did not stop on SIGTERM")
	}
}

// getJSON fetches a URL and decodes the JSON answer.
func getJSON(t testing.TB, url string, out any) int {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("GET %s: %v in %s", url, err, b)
		}
	}
	return resp.StatusCode
}

// TestServeRefusesBadBuildBatch: a negative --reports-build-batch, or one in the
// environment that is not a number, stops serve with an error naming it, before it
// opens anything.
func TestServeRefusesBadBuildBatch(t *testing.T) {
	data := t.TempDir()
	_, stderr, err := runCmd(t, "serve", "--addr", "127.0.0.1:0", "--data", data, "--reports-build-batch", "-1")
	if err == nil || !strings.Contains(stderr, "--reports-build-batch") {
		t.Fatalf("serve --reports-build-batch -1: %v\n%s", err, stderr)
	}
	t.Setenv("CDTSYNC_REPORTS_BUILD_BATCH", "năm trăm")
	_, stderr, err = runCmd(t, "serve", "--addr", "127.0.0.1:0", "--data", data)
	if err == nil || !strings.Contains(stderr, "CDTSYNC_REPORTS_BUILD_BATCH") {
		t.Fatalf("serve with CDTSYNC_REPORTS_BUILD_BATCH=\"năm trăm\": %v\n%s", err, stderr)
	}
	if entries, _ := os.ReadDir(data); len(entries) != 0 {
		t.Fatalf("serve refused but wrote %d entries into its data directory", len(entries))
	}
}
