package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/sync/engine"
	"github.com/cdtsync/cdtsync/sync/hlc"
)

// Activity is what the demo month holds.
type Activity struct {
	Logs, Approved, Rejected, Deleted int
}

// kindWeights is how often each kind is recorded in the demo month.
var kindWeights = []struct {
	kind   string
	weight int
}{
	{"vneid_install", 20}, {"vneid_level2", 26}, {"cashless_payment", 18}, {"online_public_service", 10},
	{"digital_signature", 5}, {"ecommerce", 3}, {"digital_skills", 7}, {"local_app", 8}, {"other", 3},
}

var notes = []string{
	"Hướng dẫn cài VNeID, bà con đã đăng nhập được",
	"Chụp ảnh chân dung lại do ảnh cũ bị mờ",
	"Kích hoạt mức 2 thành công tại nhà",
	"Hướng dẫn quét mã QR thanh toán ở chợ Sa Đéc",
	"Mở tài khoản ngân hàng trên điện thoại",
	"Nộp hồ sơ cấp đổi giấy phép lái xe trực tuyến",
	"Đăng ký khai sinh trực tuyến cho cháu",
	"Đưa sản phẩm hoa kiểng lên sàn thương mại điện tử",
	"Buổi phổ cập kỹ năng số tại nhà văn hoá khóm",
	"Cài ứng dụng e-DongThap, hướng dẫn gửi phản ánh",
	"Người cao tuổi, cần con cháu hỗ trợ thêm",
	"",
}

// loadActivity records a month of activity through the sync engine, as the volunteers'
// phones would push it, then the coordinators review the older logs. A few phones have
// clocks that are off; some residents are reached twice (duplicates of once-per-person
// kinds); a few attempts are incomplete and a few logs are deleted.
func loadActivity(ctx context.Context, db Store, u DemoUnits, p *People, now time.Time) (Activity, error) {
	var act Activity
	key, err := db.CitizenKey(ctx)
	if err != nil {
		return act, err
	}
	e := engine.New(db, func() time.Time { return now })
	r := rand.New(rand.NewPCG(2026, 23))
	totalWeight := 0
	for _, k := range kindWeights {
		totalWeight += k.weight
	}
	// Residents of each hamlet: as many as its adults (or a share of its households).
	residents := map[int64]int{}
	for _, v := range p.Volunteers {
		if _, ok := residents[v.Hamlet]; ok {
			continue
		}
		h, err := db.Unit(ctx, v.Hamlet)
		if err != nil {
			return act, err
		}
		n := 600
		if h.Adults != nil && *h.Adults > 0 {
			n = int(*h.Adults)
		} else if h.Households != nil && *h.Households > 0 {
			n = int(*h.Households) * 2
		}
		residents[v.Hamlet] = n
	}
	for vi, v := range p.Volunteers {
		// Most phones keep good time; one in twenty is hours or days off.
		var offset time.Duration
		if r.IntN(20) == 0 {
			offset = []time.Duration{-72 * time.Hour, -5 * time.Hour, 26 * time.Hour, 3 * time.Hour}[r.IntN(4)]
		}
		n := 6 + r.IntN(30)
		ops := make([]schema.Op, 0, n+2)
		for i := 0; i < n; i++ {
			day := r.IntN(30)
			at := now.Add(-time.Duration(day) * 24 * time.Hour).Truncate(time.Hour).
				Add(-time.Duration(r.IntN(12)) * time.Hour).Add(time.Duration(r.IntN(60)) * time.Minute)
			if !at.Before(now) {
				at = now.Add(-time.Hour)
			}
			w := r.IntN(totalWeight)
			kind := kindWeights[0].kind
			for _, k := range kindWeights {
				if w < k.weight {
					kind = k.kind
					break
				}
				w -= k.weight
			}
			f := map[string]any{
				"hamlet_id":   v.Hamlet,
				"kind":        kind,
				"occurred_at": at.Add(offset).In(engine.Vietnam()).Format(time.RFC3339),
				"age_band":    []string{"18_35", "36_59", "60_plus", "60_plus", "36_59"}[r.IntN(5)],
				"gender":      []string{"female", "male"}[r.IntN(2)],
			}
			if note := notes[r.IntN(len(notes))]; note != "" {
				f["note"] = note
			}
			if kind == "digital_skills" {
				f["attendees"] = 8 + r.IntN(30)
			} else {
				// A resident of the hamlet: the same people come back, so once-per-person
				// kinds get duplicates.
				resident := r.IntN(residents[v.Hamlet])
				cccd := fmt.Sprintf("087%03d%06d", v.Hamlet%1000, resident)
				ref, err := schema.CitizenRef(key, cccd)
				if err != nil {
					return act, err
				}
				house, _ := schema.HouseholdRef(key, fmt.Sprintf("DT-%d-%d", v.Hamlet, resident/2))
				f["citizen_ref"], f["household_ref"], f["consent"] = ref, house, true
			}
			if r.IntN(12) == 0 {
				f["outcome"] = schema.OutcomeIncomplete
			}
			id := uuid.Must(uuid.NewV7()).String()
			ops = append(ops, op(id, hlc.FromTime(at).String(), f))
			if r.IntN(100) == 0 {
				ops = append(ops, schema.Op{OpID: uuid.Must(uuid.NewV7()).String(), Type: schema.OpDelete, ID: id,
					HLC: hlc.FromTime(at.Add(time.Minute)).String()})
				act.Deleted++
			}
		}
		for len(ops) > 0 {
			n := min(len(ops), schema.DefaultPushBatch)
			resp, err := e.Push(ctx, v.Actor, schema.PushRequest{DeviceTime: now.Add(offset).Format(time.RFC3339), Ops: ops[:n]})
			if err != nil {
				return act, fmt.Errorf("demo push for volunteer %d: %w", vi, err)
			}
			for _, res := range resp.Results {
				if res.Status == schema.ResultRejected {
					return act, fmt.Errorf("demo op rejected: %s %s", res.Code, res.Message)
				}
			}
			ops = ops[n:]
		}
		act.Logs += n
	}
	// Coordinators review what is older than three days: most approved, a few rejected.
	cutoff := now.Add(-3 * 24 * time.Hour)
	reasons := []string{"Ảnh chụp giấy tờ không rõ, đề nghị bổ sung", "Thông tin địa bàn không khớp", "Người dân chưa đồng ý ghi nhận"}
	for commune, coord := range p.Coordinator {
		unit := commune
		for {
			page, err := db.ListReviews(ctx, coord, schema.ReviewFilter{Unit: &unit, Status: schema.StatusPending,
				To: cutoff.In(engine.Vietnam()).Format("2006-01-02"), Limit: schema.MaxReviewLimit})
			if err != nil {
				return act, err
			}
			if len(page.Items) == 0 {
				break
			}
			var ds []engine.Decision
			for _, it := range page.Items {
				if r.IntN(30) == 0 {
					ds = append(ds, engine.Decision{ID: it.ID, Status: schema.StatusRejected, Note: reasons[r.IntN(len(reasons))]})
					act.Rejected++
				} else {
					ds = append(ds, engine.Decision{ID: it.ID, Status: schema.StatusApproved})
					act.Approved++
				}
			}
			if _, err := e.Review(ctx, coord, ds); err != nil {
				return act, err
			}
		}
	}
	return act, nil
}

func op(id, h string, fields map[string]any) schema.Op {
	f := make(map[string]json.RawMessage, len(fields))
	for k, v := range fields {
		b, _ := json.Marshal(v)
		f[k] = b
	}
	return schema.Op{OpID: uuid.Must(uuid.NewV7()).String(), Type: schema.OpUpsert, ID: id, HLC: h, Fields: f}
}
