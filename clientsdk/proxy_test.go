package clientsdk_test

import (
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"
)

// fault is what the proxy does to one connection.
type fault int

const (
	pass        fault = iota // forward both ways
	resetBefore              // reset the connection before any of the request reaches the server
	cutAfter                 // forward the request, then reset when the answer starts: the server applied it, the phone never hears
	cutMidway                // forward part of the answer, then reset: a truncated body
	slow                     // added latency, and both directions trickled in small pieces (slow reads)
	numFaults
)

func (f fault) String() string {
	return [...]string{"pass", "reset_before_request", "cut_after_request", "cut_mid_response", "slow"}[f]
}

// faultProxy is a TCP proxy on 127.0.0.1 between the SDK and the server that breaks
// connections as a 3G link does. Each new connection gets a fault drawn with the given
// weights (a seeded generator: a failing run can be replayed).
type faultProxy struct {
	t       testing.TB
	ln      net.Listener
	target  string
	mu      sync.Mutex
	rnd     *rand.Rand
	weights [numFaults]int
	counts  [numFaults]int
	wg      sync.WaitGroup
}

func newFaultProxy(t testing.TB, target string, seed uint64) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{t: t, ln: ln, target: target, rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	p.weights[pass] = 1
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

// URL is the proxy's base URL.
func (p *faultProxy) URL() string { return "http://" + p.ln.Addr().String() }

// setWeights sets how often each fault is drawn.
func (p *faultProxy) setWeights(w map[fault]int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.weights = [numFaults]int{}
	for f, n := range w {
		p.weights[f] = n
	}
}

func (p *faultProxy) draw() (fault, int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	total := 0
	for _, w := range p.weights {
		total += w
	}
	n := p.rnd.IntN(total)
	f := pass
	for i, w := range p.weights {
		if n < w {
			f = fault(i)
			break
		}
		n -= w
	}
	p.counts[f]++
	return f, p.rnd.Int64()
}

func (p *faultProxy) stats() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for f, n := range p.counts {
		out[fault(f).String()] = n
	}
	return out
}

func (p *faultProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			f, seed := p.draw()
			p.handle(c.(*net.TCPConn), f, rand.New(rand.NewPCG(uint64(seed), 1)))
		}()
	}
}

// reset closes a connection with a TCP RST, as a dropped mobile link looks to the phone.
func reset(c *net.TCPConn) {
	c.SetLinger(0)
	c.Close()
}

func (p *faultProxy) handle(client *net.TCPConn, f fault, rnd *rand.Rand) {
	if f == resetBefore {
		reset(client)
		return
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		reset(client)
		return
	}
	upstream := up.(*net.TCPConn)
	defer upstream.Close()
	defer client.Close()
	if f == slow {
		time.Sleep(time.Duration(10+rnd.IntN(30)) * time.Millisecond)
	}
	done := make(chan struct{})
	rnd2 := rnd.Uint64() // each direction its own generator
	go func() {          // phone → server
		defer close(done)
		if f == slow {
			trickle(upstream, client, rand.New(rand.NewPCG(rnd2, 2)))
		} else {
			io.Copy(upstream, client)
		}
		upstream.CloseWrite()
	}()
	switch f {
	case pass:
		io.Copy(client, upstream)
	case slow:
		trickle(client, upstream, rnd)
	case cutAfter:
		// The first byte of the answer means the server has read the whole request and
		// acted on it: drop the answer.
		var b [1]byte
		upstream.Read(b[:])
		reset(client)
	case cutMidway:
		io.CopyN(client, upstream, int64(1+rnd.IntN(400)))
		reset(client)
	}
	client.CloseWrite()
	<-done
}

// trickle copies in small pieces with pauses: a slow link, and a slow reader on the other
// side.
func trickle(dst, src net.Conn, rnd *rand.Rand) {
	buf := make([]byte, 256+rnd.IntN(1024))
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
			time.Sleep(time.Duration(rnd.IntN(1500)) * time.Microsecond)
		}
		if err != nil {
			return
		}
	}
}
