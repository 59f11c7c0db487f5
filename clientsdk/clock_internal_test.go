package clientsdk

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestServerTimeWithinRoundTripKeepsOffset: server_time is read against the middle of the
// exchange, and a reading that agrees with the offset in use within half the round trip
// leaves it alone, so transit jitter does not move the phone's clock; a real difference
// (a phone three days behind) is taken at once.
func TestServerTimeWithinRoundTripKeepsOffset(t *testing.T) {
	ctx := context.Background()
	c, err := Open(ctx, filepath.Join(t.TempDir(), "phone.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t0 := time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	learn := func(server time.Time, sent, received int) time.Duration {
		c.learnServerTime(ctx, server.Format(time.RFC3339Nano), exchange{sent: at(sent), received: at(received)})
		return c.ClockOffset()
	}
	// Same clock as the server, answers slow or fast: the server's stamp lies anywhere in
	// the exchange.
	for _, x := range [][3]int{{10, 0, 40}, {39, 0, 40}, {1, 0, 400}, {300, 0, 400}} {
		if off := learn(at(x[0]), x[1], x[2]); off != 0 {
			t.Fatalf("server stamp at %d ms of an exchange %d–%d ms: offset %v, want 0", x[0], x[1], x[2], off)
		}
	}
	// Three days behind: taken, to the millisecond of the exchange's middle.
	days3 := 72 * time.Hour
	if off := learn(at(20).Add(days3), 0, 40); off != days3 {
		t.Fatalf("three days behind: offset %v", off)
	}
	// Jitter around it stays within the round trip: unchanged.
	if off := learn(at(35).Add(days3), 0, 40); off != days3 {
		t.Fatalf("jitter moved the offset to %v", off)
	}
	// A later exchange says 2 s more: beyond the round trip, taken.
	if off := learn(at(20).Add(days3+2*time.Second), 0, 40); off != days3+2*time.Second {
		t.Fatalf("a 2 s change was not taken: %v", off)
	}
}
