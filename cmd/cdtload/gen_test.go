package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"testing"
	"time"
)

func BenchmarkBatch(b *testing.B) {
	w := newWorkload([]byte("0123456789abcdef0123456789abcdef"), []int64{1, 2, 3}, 32, 1)
	w.edits, w.deletes, w.repeat, w.sharedVisit = 0.06, 0.02, 0.04, 0.01
	g := newGenerator(w, 0, 1, 0)
	zw, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	for _, gz := range []bool{false, true} {
		name := "json"
		if gz {
			name = "gzip"
		}
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				g.newBatch(500, 0, time.Time{}, gz, zw)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*500), "ns/op")
		})
	}
}

func mustGzipWriter(t *testing.T) *gzip.Writer {
	t.Helper()
	zw, err := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	return zw
}

// gunzipAll reads every member of a gzip stream, as the server does.
func gunzipAll(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestHouseholdsStayWithOnePhone: a household's residents are met by one volunteer (three
// residents a household); two phones' own residents never share one, so concurrent pushes
// of the load meet only where the shared pool makes them.
func TestHouseholdsStayWithOnePhone(t *testing.T) {
	const devices = 32
	w := newWorkload([]byte("0123456789abcdef0123456789abcdef"), []int64{1}, devices, 7)
	phones := map[string]map[int]bool{}
	size := map[string]int{}
	for dev := 0; dev < devices; dev++ {
		for m := uint64(1); m <= 60; m++ {
			hh := w.person(m*(devices+1) + uint64(dev) + 1).household
			if phones[hh] == nil {
				phones[hh] = map[int]bool{}
			}
			phones[hh][dev] = true
			size[hh]++
		}
	}
	for hh, ps := range phones {
		if len(ps) != 1 || size[hh] > 3 {
			t.Fatalf("household %x: %d residents met by %d phones", hh, size[hh], len(ps))
		}
	}
	if len(size) > devices*60/2 {
		t.Fatalf("%d households for %d residents: households of one", len(size), devices*60)
	}
}
