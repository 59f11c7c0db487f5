package clientsdk_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/clientsdk"
	"github.com/cdtsync/cdtsync/clientsdk/sdktest"
)

// TestClosedMidSyncResumes closes the SDK (the app stopped) at the worst moments: while
// the server commits a push whose answer the phone will never read, and while a pull page
// is on its way. Reopened, the next Sync resumes; every op is applied exactly once and the
// phone ends up with everything.
func TestClosedMidSyncResumes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := sdktest.Start(t)
	hong := srv.Volunteer(t, "Nguyễn Thị Hồng", srv.TeamSaDec)
	p := newPhone(t, "android-hong-7f3a", clientsdk.Options{PushBatch: 100, PullLimit: 100})
	p.enroll(srv, srv.TeamSaDec, hong)
	for i := 0; i < 250; i++ {
		p.record(visit(srv, fmt.Sprintf("Hộ %d", i+1)))
	}
	stopAt := func(path string, nth int32) {
		app := p.Client
		var n atomic.Int32
		srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path != path || n.Add(1) != nth {
				return false
			}
			srv.Handler.ServeHTTP(httptest.NewRecorder(), r) // the server does its part
			go app.Close()                                   // the app is stopped before the answer arrives
			<-r.Context().Done()
			return true
		})
	}

	stopAt("/v1/sync/push", 2)
	if _, err := p.Sync(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("sync interrupted by Close: %v", err)
	}
	if n := srv.Count(t, `SELECT count(*) FROM logs`); n != 200 {
		t.Fatalf("server holds %d logs after two pushes", n)
	}
	p.open()
	if got := p.pending(); got != 150 {
		t.Errorf("pending after reopening %d, want 150 (the second batch was never answered)", got)
	}
	stopAt("/v1/sync/pull", 2)
	rep, err := p.Sync(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("sync interrupted in pull: %v", err)
	}
	if rep.Pushed != 150 {
		t.Errorf("resumed push answered %d ops, want 150 (100 already applied, 50 new)", rep.Pushed)
	}
	p.open()
	srv.Intercept(nil)
	p.sync()
	if n := srv.Count(t, `SELECT count(*) FROM ops WHERE status = 'applied'`); n != 250 {
		t.Errorf("server applied %d ops, want 250", n)
	}
	local := p.logs()
	server := srv.Logs(t, srv.TeamSaDec, hong)
	if len(local) != 250 || len(server) != 250 {
		t.Fatalf("phone %d logs, server %d", len(local), len(server))
	}
	for id, l := range local {
		if !l.Synced || !sameContent(l.Content, server[id].Content) {
			t.Fatalf("log %s differs: %+v", id, l)
		}
	}
}

// TestHelperSyncProcess is the app process of TestKilledMidSync: it opens the phone's
// database and syncs in a loop until it is killed.
func TestHelperSyncProcess(t *testing.T) {
	path := os.Getenv("CDTSYNC_HELPER_DB")
	if path == "" {
		t.Skip("the app process of TestKilledMidSync")
	}
	c, err := clientsdk.Open(context.Background(), path, clientsdk.Options{PushBatch: 25, PullLimit: 25, Backoff: fastBackoff})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	fmt.Println("syncing")
	for {
		c.Sync(context.Background())
	}
}

// TestKilledMidSync runs the app in another process and kills it (SIGKILL: no cleanup,
// as Android kills apps) at random moments of a sync, between which the volunteer keeps
// recording. The reopened SDK resumes, and the result is exactly-once.
func TestKilledMidSync(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" || testing.Short() {
		t.Skip("needs processes that can be killed")
	}
	ctx := context.Background()
	srv := sdktest.Start(t)
	hong := srv.Volunteer(t, "Nguyễn Thị Hồng", srv.TeamSaDec)
	p := newPhone(t, "android-hong-7f3a", clientsdk.Options{})
	p.enroll(srv, srv.TeamSaDec, hong)
	rnd := rand.New(rand.NewPCG(11, 23))
	notes := map[string]string{}
	ops := 0
	work := func(records, edits int) {
		var ids []string
		for id := range notes {
			ids = append(ids, id)
		}
		for i := 0; i < records; i++ {
			note := fmt.Sprintf("Hộ %d", len(notes)+1)
			notes[p.record(visit(srv, note)).ID] = note
			ops++
		}
		for i := 0; i < edits && len(ids) > 0; i++ {
			id := ids[rnd.IntN(len(ids))]
			notes[id] += " — sửa"
			if _, err := p.Edit(ctx, id, clientsdk.Changes{Note: str(notes[id])}); err != nil {
				t.Fatal(err)
			}
			ops++
		}
	}
	work(150, 0)
	work(0, 30)
	p.Close()
	// A little latency so a sync takes long enough to be killed in the middle; pushes are
	// counted so each kill lands after the app has started pushing.
	var pushes atomic.Int64
	srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/v1/sync/push" {
			pushes.Add(1)
		}
		time.Sleep(time.Duration(2+rnd2()%10) * time.Millisecond)
		return false
	})

	kills := 0
	for i := 0; i < 5; i++ {
		before := srv.Count(t, `SELECT count(*) FROM ops`)
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSyncProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), "CDTSYNC_HELPER_DB="+p.path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(out).ReadString('\n')
		if strings.TrimSpace(line) != "syncing" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("app process: %q", line)
		}
		started := pushes.Load()
		for deadline := time.Now().Add(20 * time.Second); pushes.Load() == started && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(time.Duration(rnd.IntN(200)) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		kills++
		t.Logf("kill %d: after %d pushes had started, %d new ops committed", kills, pushes.Load()-started, srv.Count(t, `SELECT count(*) FROM ops`)-before)
		p.open() // the volunteer opens the app again and keeps working
		work(15, 5)
		p.Close()
	}
	p.open()
	for i := 0; p.pending() > 0 || i == 0; i++ {
		if i > 5 {
			t.Fatalf("still %d pending", p.pending())
		}
		p.sync()
	}
	if n := srv.Count(t, `SELECT count(*) FROM ops WHERE status = 'applied'`); n != int64(ops) {
		t.Errorf("server applied %d ops, the phone made %d", n, ops)
	}
	server := srv.Logs(t, srv.TeamSaDec, hong)
	local := p.logs()
	if len(server) != len(notes) || len(local) != len(notes) {
		t.Fatalf("server %d logs, phone %d, recorded %d", len(server), len(local), len(notes))
	}
	for id, note := range notes {
		if deref(server[id].Note) != note || !sameContent(local[id].Content, server[id].Content) || !local[id].Synced {
			t.Errorf("log %s: server %q, phone %+v, want %q", id, deref(server[id].Note), local[id].Log, note)
		}
	}
}

var rnd2Counter atomic.Uint64

func rnd2() uint64 { return rnd2Counter.Add(7919) }
