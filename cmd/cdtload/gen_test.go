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
