package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/cdtsync/cdtsync/schema"
)

// The workload: what one evening of a commune's volunteers looks like on the wire.
// Bodies are written by hand (appends into a byte slice, no reflection), so the generator
// spends microseconds per operation and measures the server, not itself.

// vnZone is the phones' time zone: occurred_at and device_time carry +07:00, as phones in
// Vietnam write them.
var vnZone = time.FixedZone("ICT", 7*3600)

// kindSpec is an activity kind with its share of the evening's work.
type kindSpec struct {
	code   string
	weight int
	once   bool // once per person (vneid_level2, digital_signature)
	person bool // done for one resident: carries a citizen_ref
	notes  []string
}

// kinds are the default catalogue's kinds (schema.DefaultKinds), weighted roughly as a
// campaign evening goes: mostly VNeID, then payments and local apps.
var kinds = []kindSpec{
	{code: "vneid_install", weight: 22, person: true, notes: []string{
		"Hướng dẫn cài VNeID, bà con đã đăng nhập được",
		"Cài VNeID cho cụ ông, con trai giữ điện thoại giúp",
		"Điện thoại cũ phải cập nhật hệ điều hành trước khi cài VNeID",
	}},
	{code: "vneid_level2", weight: 24, once: true, person: true, notes: []string{
		"Kích hoạt mức 2 thành công, chụp ảnh lại lần hai",
		"Bà Sáu, 78 tuổi, đã kích hoạt tài khoản định danh mức 2",
		"Ảnh khuôn mặt bị từ chối, hẹn quay lại tuần sau",
	}},
	{code: "cashless_payment", weight: 16, person: true, notes: []string{
		"Mở tài khoản ngân hàng, quét mã QR thanh toán ở chợ",
		"Cài ví điện tử, hướng dẫn chuyển tiền cho con ở Sài Gòn",
		"Tạo mã QR nhận tiền cho sạp cá ở chợ Sa Đéc",
	}},
	{code: "digital_signature", weight: 5, once: true, person: true, notes: []string{
		"Cài chữ ký số cá nhân trên điện thoại",
		"Đăng ký chữ ký số từ xa, đã xác thực qua VNeID",
	}},
	{code: "online_public_service", weight: 10, person: true, notes: []string{
		"Nộp hồ sơ cấp đổi giấy phép lái xe trên Cổng dịch vụ công",
		"Đăng ký khai sinh trực tuyến cho cháu nội",
		"Nộp hồ sơ xác nhận tình trạng hôn nhân",
	}},
	{code: "ecommerce", weight: 3, person: true, notes: []string{
		"Đưa sản phẩm bánh phồng tôm lên sàn thương mại điện tử",
		"Chụp ảnh hoa kiểng Sa Đéc để bán trên sàn",
	}},
	{code: "digital_skills", weight: 6, notes: []string{
		"Buổi phổ cập kỹ năng số tại nhà văn hoá khóm",
		"Hướng dẫn nhận biết tin nhắn lừa đảo cho hội người cao tuổi",
	}},
	{code: "local_app", weight: 10, person: true, notes: []string{
		"Cài ứng dụng e-DongThap, hướng dẫn phản ánh hiện trường",
		"Cài Sổ sức khoẻ điện tử, đã liên kết với VNeID",
	}},
	{code: "other", weight: 4, person: true, notes: []string{
		"Chưa có sóng 4G, sẽ quay lại hỗ trợ sau",
		"Hỗ trợ đặt lịch khám bệnh trực tuyến",
	}},
}

var (
	kindTotal int
	// notesJSON holds every note already encoded as a JSON string.
	notesJSON  [][][]byte
	editNotes  [][]byte
	houseNotes = []string{"", "", "", " — nhà số 12, hẻm 3", " — gần chợ", " — cạnh trường tiểu học", " — nhà bà Tư"}
	houseJSON  [][]byte
	ageBands   = []string{"under_18", "18_35", "18_35", "36_59", "36_59", "36_59", "60_plus", "60_plus"}
	genders    = []string{"female", "female", "male", "male", "other"}
)

func init() {
	for _, k := range kinds {
		kindTotal += k.weight
		var ns [][]byte
		for _, n := range k.notes {
			ns = append(ns, jsonString(n))
		}
		notesJSON = append(notesJSON, ns)
	}
	for _, n := range []string{
		"Đã bổ sung ảnh chụp giấy tờ",
		"Sửa lại: bà con đã tự đăng nhập được",
		"Cập nhật số người tham dự sau buổi học",
		"Ghi chú thêm: cần hỗ trợ lại vào cuối tuần",
	} {
		editNotes = append(editNotes, jsonString(n))
	}
	for _, h := range houseNotes {
		b := jsonString(h)
		houseJSON = append(houseJSON, b[1:len(b)-1]) // without quotes: appended inside a note
	}
}

func jsonString(s string) []byte {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return b
}

// Kinds of operation a generator makes, for the results' accounting.
const (
	opCreate = iota
	opEdit
	opDelete
	opInvalid // a creation made to be rejected (--invalid)
	nOpTypes
)

var opTypeNames = [nOpTypes]string{"create", "edit", "delete", "invalid"}

// workload is what every device's generator shares: the rates, the deployment's citizen
// key and a pool of residents every volunteer of the commune may meet.
type workload struct {
	key         []byte
	hamlets     []int64
	devices     int // the number of devices, for person numbering
	edits       float64
	deletes     float64
	repeat      float64 // a creation revisits someone this volunteer already helped
	sharedVisit float64 // a creation is for a resident another volunteer may also help
	invalid     float64
	skew        time.Duration // the server's clock minus ours: phones follow server time
	agoMin      time.Duration // occurred_at is this long or more before the op is made
	agoMax      time.Duration
	seedOffset  uint64
	shared      []person
}

// person is a resident: its number (for the duplicate model) and refs.
type person struct {
	n         uint64
	ref       string // citizen_ref, 64 hex
	household string // household_ref, 64 hex
}

// sharedPeople is the size of the pool of residents every device may meet.
const sharedPeople = 1000

// newWorkload precomputes the shared residents' refs.
func newWorkload(key []byte, hamlets []int64, devices int, seed uint64) *workload {
	w := &workload{key: key, hamlets: hamlets, devices: devices, seedOffset: seed % 1_000_000_000,
		agoMin: 2 * time.Minute, agoMax: 3 * time.Hour}
	for i := 0; i < sharedPeople; i++ {
		w.shared = append(w.shared, w.person(uint64(i)*uint64(devices+1)))
	}
	return w
}

// person returns resident n: a CCCD number of Đồng Tháp (087…) made from n, and its refs
// computed as a phone does (PROTOCOL.md §8). Distinct n give distinct numbers while
// n < 10⁹.
func (w *workload) person(n uint64) person {
	digits := fmt.Sprintf("087%09d", (n+w.seedOffset)%1_000_000_000)
	ref, err := schema.CitizenRef(w.key, digits)
	if err != nil {
		panic(err) // the prefix is a province code and the length is right
	}
	// Households of three: residents a volunteer meets one after another (n, n+D+1, n+2(D+1)
	// for device slot n mod D+1), as on a visit to a family, never residents of two phones
	// (which would make every push of the load meet every other on its households).
	slot := uint64(w.devices + 1)
	hh, err := schema.HouseholdRef(w.key, "DT-"+strconv.FormatUint(w.seedOffset, 10)+"-"+strconv.FormatUint(n/slot/3*slot+n%slot, 10))
	if err != nil {
		panic(err)
	}
	return person{n: n, ref: ref, household: hh}
}

// genLog is a log a generator created, kept for later edits and deletes.
type genLog struct {
	id      [16]byte
	version uint64 // the greatest HLC this phone wrote to it: the base of its next edit
	group   uint64 // once-per-person group key (person·16 + kind), 0 if none
	applied bool   // its creation was acknowledged as applied
	deleted bool
}

// opMeta is what the accounting needs of one op of a batch.
type opMeta struct {
	typ uint8
	log int32 // index in the generator's logs; -1 for invalid ops
}

// generator makes one device's operations. It is used by one goroutine at a time.
type generator struct {
	w          *workload
	rng        *rand.Rand
	dev        int
	offset     time.Duration // the phone's clock error
	home       int64         // the volunteer's own hamlet
	hlc        uint64
	logs       []genLog
	live       []int32 // indexes of logs not deleted, candidates for edits and deletes
	visited    []person
	last       *person
	lastKind   int
	newPersons uint64
	// groups is the once-per-person model of acknowledged ops: the number of live,
	// completed logs per group that this device added (creations minus deletes).
	groups map[uint64]int32
}

func newGenerator(w *workload, dev int, seed uint64, offset time.Duration) *generator {
	g := &generator{w: w, dev: dev, offset: offset, rng: rand.New(rand.NewPCG(seed, uint64(dev)+1)),
		groups: map[uint64]int32{}, lastKind: -1}
	g.home = w.hamlets[dev%len(w.hamlets)]
	return g
}

// tick returns the next HLC: the phone's HLC follows server time (the SDK corrects it with
// server_time), so it is built from the real clock, never from a wrong phone clock.
func (g *generator) tick() uint64 {
	h := uint64(time.Now().Add(g.w.skew).UnixMilli()) << 16
	if h <= g.hlc {
		h = g.hlc + 1
	}
	g.hlc = h
	return h
}

// uuid7 makes a version-7 UUID from the clock and the generator's random source.
func (g *generator) uuid7() [16]byte {
	var u [16]byte
	ms := uint64(time.Now().UnixMilli())
	r1, r2 := g.rng.Uint64(), g.rng.Uint64()
	for i := 0; i < 6; i++ {
		u[i] = byte(ms >> (40 - 8*i))
	}
	u[6] = 0x70 | byte(r1>>8)&0x0f
	u[7] = byte(r1)
	u[8] = 0x80 | byte(r2>>56)&0x3f
	for i := 9; i < 16; i++ {
		u[i] = byte(r2 >> (8 * (15 - i)))
	}
	return u
}

const hexdigits = "0123456789abcdef"

func appendUUID(b []byte, u [16]byte) []byte {
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexdigits[c>>4], hexdigits[c&0xf])
	}
	return b
}

func appendHLC(b []byte, h uint64) []byte {
	for i := 60; i >= 0; i -= 4 {
		b = append(b, hexdigits[(h>>uint(i))&0xf])
	}
	return b
}

// phoneNow is the phone's own clock: real time plus its error.
func (g *generator) phoneNow() time.Time { return time.Now().Add(g.w.skew + g.offset) }

// pickKind draws a kind by weight.
func (g *generator) pickKind() int {
	r := g.rng.IntN(kindTotal)
	for i, k := range kinds {
		if r < k.weight {
			return i
		}
		r -= k.weight
	}
	return len(kinds) - 1
}

// pickPerson chooses whom the volunteer helps: often the one just helped (another kind of
// help in the same visit), sometimes someone helped before (a revisit: for once-per-person
// kinds a duplicate), sometimes a resident of the shared pool whom other volunteers meet
// too (cross-phone duplicates), otherwise someone new.
func (g *generator) pickPerson() person {
	r := g.rng.Float64()
	switch {
	case g.last != nil && r < 0.45:
		return *g.last
	case len(g.visited) > 0 && r < 0.45+g.w.repeat:
		return g.visited[g.rng.IntN(len(g.visited))]
	case r < 0.45+g.w.repeat+g.w.sharedVisit:
		return g.w.shared[g.rng.IntN(len(g.w.shared))]
	}
	// Residents new to this device are numbered device-major, so they never collide with
	// another device's or the shared pool's.
	g.newPersons++
	p := g.w.person(g.newPersons*uint64(g.w.devices+1) + uint64(g.dev) + 1)
	if len(g.visited) < 4096 {
		g.visited = append(g.visited, p)
	} else {
		g.visited[g.rng.IntN(len(g.visited))] = p
	}
	return p
}

// build appends the JSON of n ops to b (comma-separated, no brackets) and their
// accounting to meta.
func (g *generator) build(b []byte, n int, meta []opMeta) ([]byte, []opMeta) {
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		r := g.rng.Float64()
		switch {
		case r < g.w.deletes:
			if len(g.live) > 0 {
				b, meta = g.deleteOp(b, meta)
			} else {
				b, meta = g.createOp(b, meta)
			}
		case r < g.w.deletes+g.w.edits:
			if len(g.live) > 0 {
				b, meta = g.editOp(b, meta)
			} else {
				b, meta = g.createOp(b, meta)
			}
		case r < g.w.deletes+g.w.edits+g.w.invalid:
			b, meta = g.invalidOp(b, meta)
		default:
			b, meta = g.createOp(b, meta)
		}
	}
	return b, meta
}

func (g *generator) opHead(b []byte, typ string, id [16]byte, hlc uint64) []byte {
	b = append(b, `{"op_id":"`...)
	b = appendUUID(b, g.uuid7())
	b = append(b, `","type":"`...)
	b = append(b, typ...)
	b = append(b, `","id":"`...)
	b = appendUUID(b, id)
	b = append(b, `","hlc":"`...)
	b = appendHLC(b, hlc)
	return append(b, '"')
}

func (g *generator) createOp(b []byte, meta []opMeta) ([]byte, []opMeta) {
	k := g.pickKind()
	var p person
	if kinds[k].person {
		p = g.pickPerson()
		// The same visit goes on with another kind of help, rarely the same one twice.
		for try := 0; try < 3 && g.last != nil && p.n == g.last.n && k == g.lastKind; try++ {
			if k2 := g.pickKind(); kinds[k2].person {
				k = k2
			}
		}
		g.last, g.lastKind = &p, k
	}
	spec := &kinds[k]
	id := g.uuid7()
	hlc := g.tick()
	hamlet := g.home
	if g.rng.IntN(10) == 0 {
		hamlet = g.w.hamlets[g.rng.IntN(len(g.w.hamlets))]
	}
	ago := g.w.agoMin + time.Duration(g.rng.Int64N(int64(g.w.agoMax-g.w.agoMin)+1))
	occurred := g.phoneNow().Add(-ago)
	completed := g.rng.IntN(20) != 0 // one attempt in twenty is not finished

	b = g.opHead(b, "upsert", id, hlc)
	b = append(b, `,"fields":{"hamlet_id":`...)
	b = strconv.AppendInt(b, hamlet, 10)
	b = append(b, `,"kind":"`...)
	b = append(b, spec.code...)
	b = append(b, `","occurred_at":"`...)
	b = occurred.In(vnZone).AppendFormat(b, time.RFC3339)
	b = append(b, '"')
	var group uint64
	if spec.person {
		b = append(b, `,"citizen_ref":"`...)
		b = append(b, p.ref...)
		b = append(b, '"')
		if g.rng.IntN(10) < 7 {
			b = append(b, `,"household_ref":"`...)
			b = append(b, p.household...)
			b = append(b, '"')
		}
		b = append(b, `,"consent":true,"age_band":"`...)
		b = append(b, ageBands[g.rng.IntN(len(ageBands))]...)
		b = append(b, `","gender":"`...)
		b = append(b, genders[g.rng.IntN(len(genders))]...)
		b = append(b, '"')
		if spec.once && completed {
			group = p.n*16 + uint64(k) + 1
		}
	} else {
		b = append(b, `,"attendees":`...)
		b = strconv.AppendInt(b, int64(5+g.rng.IntN(36)), 10)
	}
	if completed {
		b = append(b, `,"outcome":"completed"`...)
	} else {
		b = append(b, `,"outcome":"incomplete"`...)
	}
	note := notesJSON[k][g.rng.IntN(len(notesJSON[k]))]
	b = append(b, `,"note":`...)
	b = append(b, note[:len(note)-1]...)
	b = append(b, houseJSON[g.rng.IntN(len(houseJSON))]...)
	b = append(b, '"')
	b = append(b, `,"lat":`...)
	b = strconv.AppendFloat(b, 10.2937+(g.rng.Float64()-0.5)*0.04, 'f', 5, 64)
	b = append(b, `,"lon":`...)
	b = strconv.AppendFloat(b, 105.7617+(g.rng.Float64()-0.5)*0.04, 'f', 5, 64)
	b = append(b, `,"accuracy_m":`...)
	b = strconv.AppendInt(b, int64(4+g.rng.IntN(40)), 10)
	b = append(b, "}}"...)

	g.logs = append(g.logs, genLog{id: id, version: hlc, group: group})
	idx := int32(len(g.logs) - 1)
	g.live = append(g.live, idx)
	return b, append(meta, opMeta{typ: opCreate, log: idx})
}

func (g *generator) pickLive() (int, int32) {
	i := g.rng.IntN(len(g.live))
	return i, g.live[i]
}

func (g *generator) editOp(b []byte, meta []opMeta) ([]byte, []opMeta) {
	_, idx := g.pickLive()
	l := &g.logs[idx]
	hlc := g.tick()
	b = g.opHead(b, "upsert", l.id, hlc)
	b = append(b, `,"base":"`...)
	b = appendHLC(b, l.version)
	b = append(b, `","fields":{`...)
	switch g.rng.IntN(3) {
	case 0:
		b = append(b, `"note":`...)
		b = append(b, editNotes[g.rng.IntN(len(editNotes))]...)
	case 1:
		b = append(b, `"accuracy_m":`...)
		b = strconv.AppendInt(b, int64(3+g.rng.IntN(20)), 10)
	default:
		b = append(b, `"note":`...)
		b = append(b, editNotes[g.rng.IntN(len(editNotes))]...)
		b = append(b, `,"age_band":"`...)
		b = append(b, ageBands[g.rng.IntN(len(ageBands))]...)
		b = append(b, '"')
	}
	b = append(b, "}}"...)
	l.version = hlc
	return b, append(meta, opMeta{typ: opEdit, log: idx})
}

func (g *generator) deleteOp(b []byte, meta []opMeta) ([]byte, []opMeta) {
	i, idx := g.pickLive()
	l := &g.logs[idx]
	hlc := g.tick()
	b = g.opHead(b, "delete", l.id, hlc)
	b = append(b, '}')
	l.version = hlc
	l.deleted = true
	g.live[i] = g.live[len(g.live)-1]
	g.live = g.live[:len(g.live)-1]
	return b, append(meta, opMeta{typ: opDelete, log: idx})
}

// invalidOp makes a creation the server must reject, with one of four codes.
func (g *generator) invalidOp(b []byte, meta []opMeta) ([]byte, []opMeta) {
	id := g.uuid7()
	b = g.opHead(b, "upsert", id, g.tick())
	b = append(b, `,"fields":{"hamlet_id":`...)
	hamlet, kind, note, consent := g.home, "vneid_install", `"Ghi chú"`, `,"consent":true`
	switch g.rng.IntN(4) {
	case 0:
		kind = "vneid_level3" // unknown_kind
	case 1:
		note = string(jsonString(string(bytes.Repeat([]byte("ơ"), schema.MaxNoteRunes+1)))) // note_too_long
	case 2:
		consent = "" // consent_required
	default:
		hamlet = 1 << 40 // unknown_hamlet
	}
	b = strconv.AppendInt(b, hamlet, 10)
	b = append(b, `,"kind":"`...)
	b = append(b, kind...)
	b = append(b, `","occurred_at":"`...)
	b = g.phoneNow().Add(-g.w.agoMin).In(vnZone).AppendFormat(b, time.RFC3339)
	b = append(b, `","citizen_ref":"`...)
	b = append(b, g.w.shared[0].ref...)
	b = append(b, '"')
	b = append(b, consent...)
	b = append(b, `,"note":`...)
	b = append(b, note...)
	b = append(b, "}}"...)
	return b, append(meta, opMeta{typ: opInvalid, log: -1})
}

// account updates the device's duplicate model with an acknowledged op.
func (g *generator) account(m opMeta, status string) {
	if m.log < 0 || status == schema.ResultRejected {
		return
	}
	l := &g.logs[m.log]
	switch m.typ {
	case opCreate:
		if !l.applied {
			l.applied = true
			if l.group != 0 {
				g.groups[l.group]++
			}
		}
	case opDelete:
		if l.applied && l.group != 0 {
			g.groups[l.group]--
			l.group = 0
		}
	}
}

// batch is one push, built ahead of time. The body is prefix (made at each send: the
// phone's clock must be read when it sends) followed by rest, the ops.
type batch struct {
	meta    []opMeta
	rest    []byte // `"ops":[…]}`, gzip-compressed when the run uses gzip
	rawLen  int    // the length of rest before compression
	pending int    // the outbox size when this batch is sent, this batch included
	oldest  time.Time
}

// newBatch builds a batch of n ops. pending is the outbox size it reports; zero means n.
func (g *generator) newBatch(n, pending int, oldest time.Time, gz bool, zw *gzip.Writer) *batch {
	b := make([]byte, 0, n*560+16)
	b = append(b, `"ops":[`...)
	meta := make([]opMeta, 0, n)
	b, meta = g.build(b, n, meta)
	b = append(b, "]}"...)
	bt := &batch{meta: meta, rest: b, rawLen: len(b), pending: pending, oldest: oldest}
	if bt.pending == 0 {
		bt.pending = n
	}
	if gz {
		var buf bytes.Buffer
		buf.Grow(len(b) / 2)
		zw.Reset(&buf)
		zw.Write(b)
		zw.Close()
		bt.rest = buf.Bytes()
	}
	return bt
}

// appendPrefix writes the start of a push body: the phone's clock now and its outbox.
func appendPrefix(b []byte, phoneNow time.Time, bt *batch) []byte {
	b = append(b, `{"device_time":"`...)
	b = phoneNow.In(vnZone).AppendFormat(b, time.RFC3339)
	b = append(b, `","pending_ops":`...)
	b = strconv.AppendInt(b, int64(bt.pending), 10)
	if !bt.oldest.IsZero() {
		b = append(b, `,"oldest_pending_at":"`...)
		b = bt.oldest.In(vnZone).AppendFormat(b, time.RFC3339)
		b = append(b, '"')
	}
	return append(b, ',')
}
