package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// setupConfig says what the setup makes through the API.
type setupConfig struct {
	User, Password string
	Unit           int64  // where the team goes; 0: found under the caller's unit
	Team           string // the team's name: reused if it exists in the unit
	Teams          int    // teams the devices are spread over (round robin): "Team 1"…; 0 or 1: one, named Team
	Devices        int    // enrolments: one volunteer on one phone each
	Shared         float64
	WrongClocks    float64
	Concurrency    int
	Seed           uint64
}

// phone is a simulated handset. Several volunteers may be enrolled on one (shared
// phones): they share its id, its name and its clock.
type phone struct {
	id     string
	name   string
	addr   string        // its network address, sent as X-Forwarded-For at enrolment
	offset time.Duration // its clock's error
}

// device is one enrolment: a volunteer on a phone, with its credentials and its
// generator. One goroutine at a time uses it.
type device struct {
	idx       int
	volunteer int64
	row       int64
	phone     *phone
	access    string
	refresh   string
	gen       *generator
}

// deployment is what the setup found or made.
type deployment struct {
	Unit       apiUnit
	Hamlets    []apiUnit
	Team       apiTeam   // the first team
	Teams      []apiTeam // every team; device i is a volunteer of Teams[i % len(Teams)]
	Reused     int       // volunteers of the teams reused from an earlier run
	Created    int
	Phones     int
	WrongClock int
	CitizenKey []byte
	Skew       time.Duration // server clock minus ours, measured at enrolment
	Devices    []*device
	Took       time.Duration
}

// wrongClocks are the errors of the phones whose clocks are wrong: days and a year
// behind (a phone whose battery died), hours ahead (a time zone set by hand), minutes off.
var wrongClocks = []time.Duration{
	-72 * time.Hour, -26 * time.Hour, 2 * time.Hour, -365 * 24 * time.Hour, 45 * time.Minute, -7 * time.Minute,
}

// Vietnamese names for the simulated volunteers.
var (
	familyNames = []string{"Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Võ", "Phan", "Trương", "Bùi", "Đặng", "Đỗ", "Ngô"}
	middleNames = []string{"Thị", "Văn", "Ngọc", "Minh", "Thanh", "Hoàng", "Thị Kim", "Hữu"}
	givenNames  = []string{"Lan", "Hồng", "Tùng", "Hạnh", "Phúc", "Thảo", "Quang", "Nhi", "Tâm", "Khoa", "Vy", "Duy", "Trang", "Lộc"}
	phoneModels = []string{"Redmi 9A", "Samsung Galaxy A05", "OPPO A17k", "Vivo Y03", "Nokia C21", "Realme C30"}
)

func volunteerName(i int) string {
	return fmt.Sprintf("%s %s %s (đo tải %d)", familyNames[i%len(familyNames)], middleNames[(i/3)%len(middleNames)],
		givenNames[(i/7)%len(givenNames)], i+1)
}

// setup signs in, finds the unit and its hamlets, makes or reuses the team and its
// volunteers, and enrols every device through the real API.
func setup(ctx context.Context, hc *http.Client, base string, cfg setupConfig, logf func(string, ...any)) (*deployment, error) {
	start := time.Now()
	a := &api{base: base, hc: hc}
	if err := a.login(ctx, cfg.User, cfg.Password); err != nil {
		return nil, fmt.Errorf("sign-in as %q: %w", cfg.User, err)
	}
	me, err := a.me(ctx)
	if err != nil {
		return nil, err
	}
	root := me.Unit
	if cfg.Unit != 0 && cfg.Unit != me.Unit.ID {
		root = apiUnit{ID: cfg.Unit, Name: fmt.Sprintf("unit %d", cfg.Unit)}
		// Its name, when it is a child of the caller's unit (a commune of a province's admin).
		if kids, err := a.children(ctx, me.Unit.ID); err == nil {
			for _, k := range kids {
				if k.ID == cfg.Unit {
					root = k
				}
			}
		}
	}
	d := &deployment{}
	if d.Unit, d.Hamlets, err = findHamlets(ctx, a, root, 0); err != nil {
		return nil, err
	}
	if len(d.Hamlets) == 0 {
		return nil, fmt.Errorf("no hamlet under %s (%d): import hamlets, or give --unit a commune with hamlets", root.Name, root.ID)
	}
	nTeams := max(cfg.Teams, 1)
	perTeam := make([][]int64, nTeams) // each team's volunteers, in the order devices take them
	for t := range nTeams {
		name := cfg.Team
		if nTeams > 1 {
			name = fmt.Sprintf("%s %d", cfg.Team, t+1)
		}
		team, err := findOrCreateTeam(ctx, a, name, d.Unit.ID)
		if err != nil {
			return nil, err
		}
		d.Teams = append(d.Teams, team)
		want := cfg.Devices / nTeams
		if t < cfg.Devices%nTeams {
			want++
		}
		ids, reused, err := teamVolunteers(ctx, a, team.ID, want, cfg.Concurrency)
		if err != nil {
			return nil, err
		}
		perTeam[t] = ids
		d.Reused += reused
		d.Created += want - reused
	}
	d.Team = d.Teams[0]
	ids := make([]int64, cfg.Devices)
	for i := range ids {
		ids[i] = perTeam[i%nTeams][i/nTeams]
	}

	// Phones: every k-th enrolment is a second volunteer on the previous enrolment's phone.
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15))
	run := fmt.Sprintf("%08x", rng.Uint32())
	shareEvery := 0
	if cfg.Shared > 0 {
		shareEvery = int(1/cfg.Shared + 0.5)
	}
	d.Devices = make([]*device, cfg.Devices)
	var last *phone
	for i := range d.Devices {
		p := last
		if p == nil || shareEvery < 2 || i%shareEvery != shareEvery-1 {
			n := d.Phones
			p = &phone{
				id:   fmt.Sprintf("cdtload-%s-%06d", run, n),
				name: fmt.Sprintf("%s (cdtload %d)", phoneModels[n%len(phoneModels)], n+1),
				addr: fmt.Sprintf("10.%d.%d.%d", (n>>16)&0xff, (n>>8)&0xff, n&0xff),
			}
			if rng.Float64() < cfg.WrongClocks {
				p.offset = wrongClocks[rng.IntN(len(wrongClocks))]
				d.WrongClock++
			}
			d.Phones++
		}
		last = p
		d.Devices[i] = &device{idx: i, volunteer: ids[i], phone: p}
	}

	var (
		keyOnce sync.Once
		key     string
		skewSum atomic.Int64
		enrols  atomic.Int64
	)
	if err := parallel(ctx, len(d.Devices), cfg.Concurrency, func(i int) error {
		dev := d.Devices[i]
		code, err := a.enrolmentCode(ctx, dev.volunteer)
		if err != nil {
			return err
		}
		sent := time.Now()
		e, err := a.enroll(ctx, code, dev.phone.id, dev.phone.name, dev.phone.addr)
		if err != nil {
			return err
		}
		if st, err := time.Parse(time.RFC3339Nano, e.ServerTime); err == nil {
			mid := sent.Add(time.Since(sent) / 2)
			skewSum.Add(int64(st.Sub(mid)))
		}
		dev.access, dev.refresh, dev.row = e.AccessToken, e.RefreshToken, e.Device.ID
		keyOnce.Do(func() { key = e.CitizenKey })
		if n := enrols.Add(1); n%1000 == 0 {
			logf("setup: %d/%d devices enrolled", n, len(d.Devices))
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if d.CitizenKey, err = base64.StdEncoding.DecodeString(key); err != nil || len(d.CitizenKey) == 0 {
		return nil, fmt.Errorf("enrolment gave no usable citizen_key")
	}
	if n := enrols.Load(); n > 0 {
		d.Skew = time.Duration(skewSum.Load() / n)
		if d.Skew > -time.Second && d.Skew < time.Second {
			d.Skew = 0 // the same machine, or close enough
		}
	}
	if t := a.throttled.Load(); t > 0 {
		logf("setup: the server throttled %d requests (waited %.0f s in all); start it with --trust-proxy so each simulated phone counts as its own address",
			t, time.Duration(a.throttleWaited.Load()).Seconds())
	}
	d.Took = time.Since(start)
	return d, nil
}

// findHamlets finds where the team goes: the first unit, depth first from u, whose
// children include hamlets (a commune), with those hamlets; or u itself when it is a
// hamlet or has no children (a hamlet given by --unit).
func findHamlets(ctx context.Context, a *api, u apiUnit, depth int) (apiUnit, []apiUnit, error) {
	if u.Level == "hamlet" {
		return u, []apiUnit{u}, nil
	}
	kids, err := a.children(ctx, u.ID)
	if err != nil {
		return u, nil, err
	}
	if len(kids) == 0 && depth == 0 && u.Level == "" {
		return u, []apiUnit{u}, nil
	}
	var hamlets []apiUnit
	for _, k := range kids {
		if k.Level == "hamlet" {
			hamlets = append(hamlets, k)
		}
	}
	if len(hamlets) > 0 {
		return u, hamlets, nil
	}
	for _, k := range kids {
		if depth >= 3 {
			break
		}
		if t, hs, err := findHamlets(ctx, a, k, depth+1); err != nil || len(hs) > 0 {
			return t, hs, err
		}
	}
	return u, nil, nil
}

// teamVolunteers returns n active volunteers of the team: those it has (the first n, by
// id), and new ones made for the rest. reused counts the first kind.
func teamVolunteers(ctx context.Context, a *api, team int64, n, conc int) (ids []int64, reused int, err error) {
	vols, err := a.volunteers(ctx, team)
	if err != nil {
		return nil, 0, err
	}
	for _, v := range vols {
		if v.RevokedAt == "" && v.Role == "volunteer" {
			ids = append(ids, v.ID)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	if len(ids) > n {
		ids = ids[:n]
	}
	reused = len(ids)
	newIDs := make([]int64, n-reused)
	if err := parallel(ctx, len(newIDs), conc, func(i int) error {
		u, err := a.createVolunteer(ctx, volunteerName(reused+i), team)
		newIDs[i] = u.ID
		return err
	}); err != nil {
		return nil, 0, err
	}
	return append(ids, newIDs...), reused, nil
}

func findOrCreateTeam(ctx context.Context, a *api, name string, unit int64) (apiTeam, error) {
	find := func() (apiTeam, bool, error) {
		ts, err := a.teams(ctx, unit)
		if err != nil {
			return apiTeam{}, false, err
		}
		for _, t := range ts {
			if t.Name == name && t.UnitID == unit {
				return t, true, nil
			}
		}
		return apiTeam{}, false, nil
	}
	if t, ok, err := find(); ok || err != nil {
		return t, err
	}
	t, err := a.createTeam(ctx, name, unit)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusConflict {
		if t, ok, err := find(); ok || err != nil {
			return t, err
		}
	}
	return t, err
}

// parallel runs fn(0…n-1) on at most conc goroutines and returns the first error.
func parallel(ctx context.Context, n, conc int, fn func(i int) error) error {
	if conc < 1 {
		conc = 1
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	for w := 0; w < conc && w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					errOnce.Do(func() { first = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}
