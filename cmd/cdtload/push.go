package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cdtsync/cdtsync/schema"
)

// pusher sends batches as a phone does: the same batch again after a 503's Retry-After,
// a network error or a 5xx (with backoff); new tokens after a 401.
type pusher struct {
	bases      []string // servers; each attempt goes to the next, as a round-robin load balancer sends it
	next       atomic.Uint64
	hc         *http.Client
	api        *api
	gz         bool
	skew       time.Duration // server clock minus ours
	st         *stats
	maxRetries int
	prefixes   sync.Pool // *prefixBuf
}

type prefixBuf struct {
	raw []byte
	gz  bytes.Buffer
	zw  *gzip.Writer
}

func (p *pusher) prefix(bt *batch, now time.Time) *prefixBuf {
	pb, _ := p.prefixes.Get().(*prefixBuf)
	if pb == nil {
		pb = &prefixBuf{}
		pb.zw, _ = gzip.NewWriterLevel(&pb.gz, gzip.NoCompression)
	}
	pb.raw = appendPrefix(pb.raw[:0], now, bt)
	if p.gz {
		// A gzip stream may hold several members; the server's reader reads them all.
		// The small, fresh prefix is its own (stored) member, the ops the precompressed one.
		pb.gz.Reset()
		pb.zw.Reset(&pb.gz)
		pb.zw.Write(pb.raw)
		pb.zw.Close()
	}
	return pb
}

// pushResponse is the part of a push answer the accounting reads.
type pushResponse struct {
	Results []struct {
		Status string `json:"status"`
		Code   string `json:"code"`
	} `json:"results"`
}

// push sends one batch until it is acknowledged (200), refused for good (a 4xx other
// than 401/429), or maxRetries failed attempts. It reports whether it was acknowledged.
func (p *pusher) push(ctx context.Context, d *device, bt *batch) bool {
	backoff := 250 * time.Millisecond
	refreshed := false
	failures := 0
	for {
		if ctx.Err() != nil {
			p.st.abandon(bt)
			return false
		}
		pb := p.prefix(bt, time.Now().Add(p.skew).Add(d.phone.offset))
		var body io.Reader
		var n int
		if p.gz {
			body = io.MultiReader(bytes.NewReader(pb.gz.Bytes()), bytes.NewReader(bt.rest))
			n = pb.gz.Len() + len(bt.rest)
		} else {
			body = io.MultiReader(bytes.NewReader(pb.raw), bytes.NewReader(bt.rest))
			n = len(pb.raw) + len(bt.rest)
		}
		base := p.bases[(p.next.Add(1)-1)%uint64(len(p.bases))]
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/sync/push", body)
		if err != nil {
			panic(err)
		}
		req.ContentLength = int64(n)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+d.access)
		req.Header.Set("User-Agent", "cdtload/1")
		if p.gz {
			req.Header.Set("Content-Encoding", "gzip")
		}
		start := time.Now()
		resp, err := p.hc.Do(req)
		var b []byte
		if err == nil {
			b, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		lat := time.Since(start)
		p.st.sent(len(bt.meta), n, len(pb.raw)+bt.rawLen)
		if err == nil {
			// Only now is the transport surely done with the body: after a failed request it
			// may still be reading it.
			p.prefixes.Put(pb)
		}
		if err != nil {
			if ctx.Err() != nil {
				p.st.abandon(bt)
				return false
			}
			p.st.error(netErrorCode(err))
			failures++
			if failures > p.maxRetries {
				p.st.giveUp(bt)
				return false
			}
			sleepCtx(ctx, jitter(backoff))
			backoff = min(backoff*2, 10*time.Second)
			continue
		}
		if resp.StatusCode == http.StatusOK {
			var pr pushResponse
			if err := json.Unmarshal(b, &pr); err != nil || len(pr.Results) != len(bt.meta) {
				p.st.error("bad_response")
				p.st.giveUp(bt)
				return false
			}
			p.st.acked(bt, d, &pr, lat)
			return true
		}
		e := decodeAPIError(resp, b)
		switch {
		case (e.Status == http.StatusServiceUnavailable || e.Status == http.StatusTooManyRequests) && e.HasRetry:
			// Honoured: the server asked to come back later; not an error. As the SDK does,
			// wait Retry-After plus up to a tenth more, so a herd spreads a little.
			wait := max(e.RetryAfter, 100*time.Millisecond)
			wait += time.Duration(rand.Int64N(int64(wait/10) + 1))
			p.st.honoured(e.Status, wait)
			sleepCtx(ctx, wait)
			continue
		case e.Status == http.StatusUnauthorized && !refreshed:
			refreshed = true
			p.st.reauth()
			tp, err := p.api.refreshDevice(ctx, d.refresh)
			if err != nil {
				p.st.error("refresh_failed")
				p.st.giveUp(bt)
				return false
			}
			d.access, d.refresh = tp.AccessToken, tp.RefreshToken
			continue
		}
		p.st.error("http_" + strconv.Itoa(e.Status) + "_" + e.Code)
		if e.Status >= 500 || e.Status == http.StatusRequestTimeout {
			failures++
			if failures <= p.maxRetries {
				sleepCtx(ctx, jitter(backoff))
				backoff = min(backoff*2, 10*time.Second)
				continue
			}
		}
		p.st.giveUp(bt)
		return false
	}
}

// jitter is "full jitter" backoff: a random wait up to d.
func jitter(d time.Duration) time.Duration {
	return time.Duration(rand.Int64N(int64(d)) + 1)
}

// netErrorCode names a transport failure for the error table.
func netErrorCode(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "net_timeout"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "net_eof"
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return "net_" + oe.Op
	}
	return "net_error"
}

// statusIndex maps an op result to the stats' column.
func statusIndex(s string) int {
	switch s {
	case schema.ResultApplied:
		return 0
	case schema.ResultAlreadyApplied:
		return 1
	case schema.ResultRejected:
		return 2
	}
	return 3
}
