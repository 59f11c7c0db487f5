package clientsdk_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/clientsdk"
	"github.com/cdtsync/cdtsync/clientsdk/sdktest"
)

// TestFaultyNetworkConverges puts a fault-injecting TCP proxy between the phone and the
// server: connections reset before the request, cut after the request was sent but
// before the answer (the server applied it, the phone never heard), cut in the middle of
// the answer, and slowed down with latency and trickled reads. The volunteer keeps
// recording, editing and deleting between syncs. After enough Sync calls everything
// converges: every op applied exactly once, no log lost or doubled, and the phone shows
// what the server holds.
func TestFaultyNetworkConverges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := sdktest.Start(t)
	hong := srv.Volunteer(t, "Nguyễn Thị Hồng", srv.TeamSaDec)
	const seed = 20261123
	proxy := newFaultProxy(t, srv.URL[len("http://"):], seed)
	hc := clientsdk.NewHTTPClient()
	// One connection per request, so each request draws its own fault.
	tr := hc.Transport.(*http.Transport).Clone()
	tr.DisableKeepAlives = true
	hc.Transport = tr
	// Few retries within a Sync, so that many Syncs fail and the next one must resume.
	p := newPhone(t, "android-hong-7f3a", clientsdk.Options{HTTPClient: hc, PushBatch: 40, PullLimit: 60,
		Backoff: clientsdk.Backoff{Initial: time.Millisecond, Max: 10 * time.Millisecond, Retries: 1}})
	if _, err := p.Enroll(ctx, proxy.URL(), srv.Code(t, srv.TeamSaDec, hong)); err != nil {
		t.Fatal(err)
	}
	proxy.setWeights(map[fault]int{pass: 35, resetBefore: 15, cutAfter: 25, cutMidway: 10, slow: 15})

	rnd := rand.New(rand.NewPCG(seed, 7))
	type want struct {
		note    string
		deleted bool
	}
	model := map[string]*want{}
	var ids []string
	ops := 0
	activity := func(records, edits, deletes int) {
		for i := 0; i < records; i++ {
			note := fmt.Sprintf("Hộ %d, khóm Vĩnh Phước", len(ids)+1)
			l := p.record(visit(srv, note))
			ids = append(ids, l.ID)
			model[l.ID] = &want{note: note}
			ops++
		}
		for i := 0; i < edits; i++ {
			id := ids[rnd.IntN(len(ids))]
			if model[id].deleted {
				continue
			}
			note := model[id].note + " — đã sửa"
			if _, err := p.Edit(ctx, id, clientsdk.Changes{Note: str(note)}); err != nil {
				t.Fatal(err)
			}
			model[id].note = note
			ops++
		}
		for i := 0; i < deletes; i++ {
			id := ids[rnd.IntN(len(ids))]
			if model[id].deleted {
				continue
			}
			if err := p.Delete(ctx, id); err != nil {
				t.Fatal(err)
			}
			model[id].deleted = true
			ops++
		}
	}
	activity(120, 30, 8)
	syncs, failed := 0, 0
	for round := 0; ; round++ {
		if round > 150 {
			t.Fatalf("no convergence after %d syncs; proxy %v", syncs, proxy.stats())
		}
		syncs++
		_, err := p.Sync(ctx)
		if err != nil {
			failed++
			var ne *clientsdk.NetworkError
			if !errors.As(err, &ne) {
				t.Fatalf("sync %d: %v (not a network error)", syncs, err)
			}
		}
		if round < 6 {
			activity(10, 5, 2) // the volunteer keeps working between syncs
			continue
		}
		if err == nil && p.pending() == 0 {
			break
		}
	}
	st := proxy.stats()
	t.Logf("converged after %d syncs (%d failed); %d ops; proxy connections %v", syncs, failed, ops, st)
	for f := fault(0); f < numFaults; f++ {
		if st[f.String()] == 0 {
			t.Errorf("fault %s never injected", f)
		}
	}
	if got := srv.Count(t, `SELECT count(*) FROM ops WHERE volunteer_id = ?`, hong); got != int64(ops) {
		t.Errorf("server received %d distinct ops, phone made %d", got, ops)
	}
	if got := srv.Count(t, `SELECT count(*) FROM ops WHERE status = 'rejected'`); got != 0 {
		t.Errorf("%d ops rejected", got)
	}
	server := srv.Logs(t, srv.TeamSaDec, hong)
	if len(server) != len(ids) {
		t.Errorf("server holds %d logs, phone recorded %d", len(server), len(ids))
	}
	local := p.logs()
	for id, w := range model {
		s, l := server[id], local[id]
		if s.Deleted != w.deleted || (!w.deleted && deref(s.Note) != w.note) {
			t.Errorf("server log %s: deleted %v note %q, want %+v", id, s.Deleted, deref(s.Note), *w)
		}
		if l.Deleted != s.Deleted || !sameContent(l.Content, s.Content) || l.Version != s.Version || !l.Synced {
			t.Errorf("phone log %s %+v differs from the server's %+v", id, l.Log, s)
		}
	}
}
