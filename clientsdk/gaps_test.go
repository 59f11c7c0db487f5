package clientsdk_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/clientsdk"
	"github.com/cdtsync/cdtsync/clientsdk/sdktest"
	"github.com/cdtsync/cdtsync/schema"
)

// TestLostRefreshAnswer: the server rotates the refresh token but its answer is lost
// (a 3G drop). The phone still holds only the old token and retries with it; within the
// server's grace this is taken as a lost answer, not theft, and the phone carries on.
func TestLostRefreshAnswer(t *testing.T) {
	t.Parallel()
	srv := sdktest.Start(t)
	hong := srv.Volunteer(t, "Nguyễn Thị Hồng", srv.TeamSaDec)
	p := newPhone(t, "android-hong-7f3a", clientsdk.Options{})
	p.enroll(srv, srv.TeamSaDec, hong)
	p.record(visit(srv, "Hộ 1"))
	p.sync()
	srv.Clock.Advance(20 * time.Minute)
	var lost atomic.Bool
	srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/v1/auth/refresh" && !lost.Swap(true) {
			srv.Handler.ServeHTTP(httptest.NewRecorder(), r) // rotated on the server
			w.WriteHeader(http.StatusBadGateway)             // the answer never arrives
			return true
		}
		return false
	})
	p.record(visit(srv, "Hộ 2"))
	if rep := p.sync(); rep.Pushed != 1 || !lost.Load() {
		t.Errorf("report %+v", rep)
	}
	// And the session is still good later on.
	srv.Clock.Advance(20 * time.Minute)
	p.record(visit(srv, "Hộ 3"))
	p.sync()
	if n := srv.Count(t, `SELECT count(*) FROM logs`); n != 3 {
		t.Errorf("server holds %d logs", n)
	}
}

// TestEnrollLostAnswer: POST /v1/enroll is safe to retry. If the server redeems the code
// but the answer is lost (a 3G drop at the worst moment), the same phone sending the same
// code again within auth.EnrollRetryGrace gets credentials for the same enrolment.
func TestEnrollLostAnswer(t *testing.T) {
	srv := sdktest.Start(t)
	hong := srv.Volunteer(t, "Nguyễn Thị Hồng", srv.TeamSaDec)
	p := newPhone(t, "android-hong-7f3a", clientsdk.Options{})
	code := srv.Code(t, srv.TeamSaDec, hong)
	var lost atomic.Bool
	srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/v1/enroll" && !lost.Swap(true) {
			srv.Handler.ServeHTTP(httptest.NewRecorder(), r)
			w.WriteHeader(http.StatusBadGateway)
			return true
		}
		return false
	})
	if _, err := p.Enroll(context.Background(), srv.URL, code); err == nil {
		t.Fatal("the first attempt should fail: its answer was lost")
	}
	// The volunteer taps "try again" with the same code, a second later.
	if _, err := p.Enroll(context.Background(), srv.URL, code); err != nil {
		t.Fatalf("retrying the enrolment after a lost answer: %v (code %s)", err, schema.ErrorCode(err))
	}
}
