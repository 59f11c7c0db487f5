package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cdtsync/cdtsync/clientsdk"
	"github.com/cdtsync/cdtsync/schema"
)

// vietnam is the time zone shown: Asia/Ho_Chi_Minh, UTC+7 all year.
var vietnam = time.FixedZone("ICT", 7*3600)

// vnTime formats a time as Vietnamese readers expect: dd/mm/yyyy hh:mm, Vietnam time.
func vnTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(vietnam).Format("02/01/2006 15:04")
}

// vnNumber formats an integer with a dot for thousands: 1.284.
func vnNumber(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte('.')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// vnDuration says how long, roughly: "3 ngày / 3 days".
func vnDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "vài giây / seconds"
	case d < time.Hour:
		n := int(d / time.Minute)
		return fmt.Sprintf("%d phút / %d min", n, n)
	case d < 48*time.Hour:
		n := int(d / time.Hour)
		return fmt.Sprintf("%d giờ / %d h", n, n)
	}
	n := int(d / (24 * time.Hour))
	return fmt.Sprintf("%d ngày / %d days", n, n)
}

// statusText is a log's state as the volunteer reads it.
func statusText(l clientsdk.Log) string {
	if l.Deleted {
		return "đã xoá / deleted"
	}
	if l.RejectedCode != "" && !l.Synced {
		return "máy chủ từ chối / refused: " + l.RejectedCode
	}
	if !l.Synced {
		return "chưa đồng bộ / not yet synced"
	}
	switch l.Status {
	case schema.StatusApproved:
		return "đã duyệt / approved"
	case schema.StatusRejected:
		return "bị từ chối / rejected"
	case schema.StatusDuplicate:
		return "trùng lặp / duplicate"
	case schema.StatusPending:
		return "chờ duyệt / pending review"
	}
	return "đã đồng bộ / synced"
}

// names looks up pick-list names for display.
type names struct {
	hamlets map[int64]string
	kinds   map[string]string
}

func (n names) hamlet(id *int64) string {
	if id == nil {
		return "—"
	}
	if s, ok := n.hamlets[*id]; ok {
		return s
	}
	return "#" + strconv.FormatInt(*id, 10)
}

func (n names) kind(code *string) string {
	if code == nil {
		return "—"
	}
	if s, ok := n.kinds[*code]; ok {
		return s
	}
	return *code
}

// progressBar draws a bar on one terminal line: [#####.....] 400/1.000.
func progressBar(done, total int) string {
	const width = 30
	if total <= 0 {
		total = 1
	}
	n := min(done*width/total, width)
	return fmt.Sprintf("\r[%s%s] %s/%s thao tác / ops", strings.Repeat("#", n), strings.Repeat(".", width-n), vnNumber(done), vnNumber(total))
}
