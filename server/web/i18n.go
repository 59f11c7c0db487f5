package web

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cdtsync/cdtsync/schema"
)

// Languages and formats. Vietnamese is the default; English is the second language
// (GLOSSARY.md). Numbers: Vietnamese 1.284 and 71,5 %, English 1,284 and 71.5%. Dates are
// dd/mm/yyyy in both, times 24-hour, always Vietnam time (UTC+7).

// vietnam is Asia/Ho_Chi_Minh: UTC+7, no daylight saving.
var vietnam = time.FixedZone("ICT", 7*3600)

// loc formats text, numbers and dates in one language. Templates call its methods:
// {{.L.T "nav_overview"}}, {{.L.Int .People}}, {{.L.Pct .Pct}}, {{.L.Date .From}}.
type loc struct {
	EN bool
}

// Lang is the language's code for <html lang>.
func (l loc) Lang() string {
	if l.EN {
		return "en"
	}
	return "vi"
}

// T is the text of a message key; an unknown key shows as itself (a test checks every
// key the templates use exists in both languages).
func (l loc) T(key string) string {
	m, ok := messages[key]
	if !ok {
		return key
	}
	if l.EN {
		return m[1]
	}
	return m[0]
}

// Tf formats a message with arguments.
func (l loc) Tf(key string, args ...any) string { return fmt.Sprintf(l.T(key), args...) }

// Int formats a whole number with thousands separators: 1.284 or 1,284.
func (l loc) Int(n int64) string {
	sep := "."
	if l.EN {
		sep = ","
	}
	neg := n < 0
	if neg {
		n = -n
	}
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// IntP formats an optional number; nil is a dash.
func (l loc) IntP(n *int64) string {
	if n == nil {
		return "—"
	}
	return l.Int(*n)
}

// Dec formats a number with one decimal, trailing ",0" dropped: 71,5 or 1.284.
func (l loc) Dec(f float64) string {
	r := math.Round(f*10) / 10
	whole := int64(r)
	tenth := int64(math.Round(math.Abs(r-float64(whole)) * 10))
	s := l.Int(whole)
	if whole == 0 && r < 0 {
		s = "-0"
	}
	if tenth == 0 {
		return s
	}
	if l.EN {
		return s + "." + strconv.FormatInt(tenth, 10)
	}
	return s + "," + strconv.FormatInt(tenth, 10)
}

// Pct formats a percentage: "71,5 %" or "71.5%"; nil is a dash.
func (l loc) Pct(p *float64) string {
	if p == nil {
		return "—"
	}
	return l.PctF(*p)
}

// PctF formats a percentage.
func (l loc) PctF(f float64) string {
	if l.EN {
		return l.Dec(f) + "%"
	}
	return l.Dec(f) + " %"
}

// Date formats a date (YYYY-MM-DD) or a time (RFC 3339) as dd/mm/yyyy in Vietnam; an
// empty or unreadable value is a dash.
func (l loc) Date(s string) string {
	if t, err := time.ParseInLocation(time.DateOnly, s, vietnam); err == nil {
		return t.Format("02/01/2006")
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.In(vietnam).Format("02/01/2006")
	}
	return "—"
}

// DateIn is a date (YYYY-MM-DD) as a form field shows it: dd/mm/yyyy, empty when none.
func (l loc) DateIn(s string) string {
	if s == "" {
		return ""
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, vietnam); err == nil {
		return t.Format("02/01/2006")
	}
	return s
}

// DateTime formats a time (RFC 3339) as "14:05 23/11/2026", Vietnam time.
func (l loc) DateTime(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return "—"
	}
	return l.When(t)
}

// DateTimeP formats an optional time.
func (l loc) DateTimeP(s *string) string {
	if s == nil {
		return "—"
	}
	return l.DateTime(*s)
}

// When formats a time as "14:05 23/11/2026", Vietnam time.
func (l loc) When(t time.Time) string { return t.In(vietnam).Format("15:04 02/01/2006") }

// HLCTime formats the wall-clock part of a hybrid logical clock (16 hex digits).
func (l loc) HLCTime(s string) string {
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil || len(s) != 16 {
		return s
	}
	return l.When(time.UnixMilli(int64(v >> 16)))
}

// Duration formats a length of time coarsely: "3 ngày 4 giờ", "2 giờ 5 phút", "45 giây".
func (l loc) Duration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	day, hour, minute := d/(24*time.Hour), d%(24*time.Hour)/time.Hour, d%time.Hour/time.Minute
	unit := func(n time.Duration, key string) string { return l.Int(int64(n)) + " " + l.T(key) }
	switch {
	case day > 0 && hour > 0:
		return unit(day, "u_day") + " " + unit(hour, "u_hour")
	case day > 0:
		return unit(day, "u_day")
	case hour > 0 && minute > 0:
		return unit(hour, "u_hour") + " " + unit(minute, "u_minute")
	case hour > 0:
		return unit(hour, "u_hour")
	case minute > 0:
		return unit(minute, "u_minute")
	}
	return unit(d/time.Second, "u_second")
}

// Kind is an activity kind's name, from the default catalogue (reports carry the live
// catalogue and use KindIn).
func (l loc) Kind(code string) string { return l.KindIn(schema.DefaultKinds, code) }

// KindIn is an activity kind's name from a catalogue.
func (l loc) KindIn(kinds []schema.Kind, code string) string {
	for _, k := range kinds {
		if k.Code == code {
			if l.EN {
				return k.NameEN
			}
			return k.NameVI
		}
	}
	return code
}

// TargetPeriod names a target's period: "2026" → "năm 2026", "2026-Q4" → "quý 4/2026",
// "2026-11" → "tháng 11/2026".
func (l loc) TargetPeriod(p string) string {
	y, rest, ok := strings.Cut(p, "-")
	switch {
	case !ok:
		return l.Tf("period_year", y)
	case strings.HasPrefix(rest, "Q"):
		return l.Tf("period_quarter", rest[1:], y)
	}
	return l.Tf("period_month", rest, y)
}

// Status is a log status's name.
func (l loc) Status(s string) string { return l.T("status_" + s) }

// Role is a role's name.
func (l loc) Role(r string) string { return l.T("role_" + r) }

// Field is a log field's name.
func (l loc) Field(f string) string { return l.T("field_" + f) }

// Level is the name of the units one level below a unit of this level ("Ấp/thôn").
func (l loc) Level(level string) string { return l.T("level_" + level) }

// Message picks this language's half of a bilingual store message ("Việt / English").
func (l loc) Message(msg string) string {
	vi, en, ok := strings.Cut(msg, " / ")
	if !ok {
		return msg
	}
	if l.EN {
		return en
	}
	return vi
}

// Value formats a log field's value from its history.
func (l loc) Value(field string, v any) string {
	switch x := v.(type) {
	case nil:
		return "—"
	case bool:
		if x {
			return l.T("yes")
		}
		return l.T("no")
	case float64:
		if field == "hamlet_id" || x != math.Trunc(x) {
			return strconv.FormatFloat(x, 'f', -1, 64)
		}
		return l.Int(int64(x))
	case string:
		switch field {
		case "kind":
			return l.Kind(x)
		case "occurred_at":
			return l.DateTime(x)
		case "outcome":
			return l.T("outcome_" + x)
		}
		return x
	}
	return fmt.Sprint(v)
}

// messages holds every text of the dashboard: key → {Vietnamese, English}.
var messages = map[string][2]string{
	// Layout.
	"app_name":        {"Tổ công nghệ số cộng đồng", "Community digital technology teams"},
	"app_short":       {"Tổ CNSCĐ", "CDT teams"},
	"nav_overview":    {"Tổng quan", "Overview"},
	"nav_reviews":     {"Duyệt nhật ký", "Review logs"},
	"nav_teams":       {"Kết quả của tổ", "Team output"},
	"nav_devices":     {"Thiết bị", "Devices"},
	"nav_volunteers":  {"Đăng ký thành viên", "Enrol volunteers"},
	"nav_menu":        {"Menu", "Menu"},
	"sign_in":         {"Đăng nhập", "Sign in"},
	"sign_out":        {"Đăng xuất", "Sign out"},
	"other_lang":      {"English", "Tiếng Việt"},
	"other_lang_code": {"en", "vi"},
	"skip_to_main":    {"Bỏ qua, đến nội dung chính", "Skip to the main content"},
	"yes":             {"có", "yes"},
	"no":              {"không", "no"},
	"u_day":           {"ngày", "d"},
	"u_hour":          {"giờ", "h"},
	"u_minute":        {"phút", "min"},
	"u_second":        {"giây", "s"},

	"role_volunteer":   {"Thành viên tổ", "Volunteer"},
	"role_coordinator": {"Cán bộ điều phối", "Coordinator"},
	"role_officer":     {"Cán bộ huyện / tỉnh", "District / province officer"},
	"role_admin":       {"Quản trị viên", "Administrator"},

	// Sign-in.
	"login_title":                {"Đăng nhập bảng điều khiển", "Sign in to the dashboard"},
	"login_hint":                 {"Dành cho cán bộ điều phối xã/phường, cán bộ huyện/tỉnh và quản trị viên. Thành viên tổ dùng ứng dụng trên điện thoại.", "For commune coordinators, district and province officers and administrators. Volunteers use the phone app."},
	"username":                   {"Tên đăng nhập", "Username"},
	"password":                   {"Mật khẩu", "Password"},
	"msg_signed_out":             {"Bạn đã đăng xuất.", "You have signed out."},
	"msg_sign_in_first":          {"Vui lòng đăng nhập để tiếp tục.", "Please sign in to continue."},
	"msg_session_ended":          {"Phiên đăng nhập đã kết thúc, vui lòng đăng nhập lại.", "Your session has ended; please sign in again."},
	"msg_form_expired":           {"Trang đăng nhập đã hết hạn, vui lòng thử lại.", "The sign-in page expired; please try again."},
	"msg_volunteer_no_dashboard": {"Thành viên tổ không dùng bảng điều khiển; hãy dùng ứng dụng trên điện thoại.", "Volunteers do not use the dashboard; use the phone app."},

	// Period picker.
	"period":         {"Kỳ báo cáo", "Report period"},
	"from":           {"Từ ngày", "From"},
	"to":             {"Đến ngày", "To"},
	"approved_only":  {"Chỉ tính hoạt động đã duyệt", "Approved only"},
	"show":           {"Xem", "Show"},
	"this_month":     {"Tháng này", "This month"},
	"last_month":     {"Tháng trước", "Last month"},
	"last_30":        {"30 ngày qua", "Last 30 days"},
	"this_year":      {"Năm nay", "This year"},
	"period_line":    {"Từ %s đến %s", "From %s to %s"},
	"date_hint":      {"ngày/tháng/năm", "dd/mm/yyyy"},
	"period_year":    {"năm %s", "year %s"},
	"period_quarter": {"quý %s/%s", "Q%s %s"},
	"period_month":   {"tháng %s/%s", "%s/%s"},

	// Overview.
	"overview_title":    {"Mức độ bao phủ", "Coverage"},
	"people":            {"Số người dân được hỗ trợ", "People reached"},
	"people_short":      {"Người dân", "People"},
	"households":        {"Số hộ được hỗ trợ", "Households reached"},
	"households_short":  {"Hộ", "Households"},
	"logs":              {"Số hoạt động", "Activities"},
	"attendees":         {"Số lượt người tham dự", "Attendees"},
	"attendees_n":       {"%s lượt người tham dự", "%s attendees"},
	"incomplete":        {"Chưa hoàn thành", "Not completed"},
	"active_volunteers": {"Thành viên hoạt động", "Active volunteers"},
	"last_activity":     {"Hoạt động gần nhất", "Last activity"},
	"target":            {"Chỉ tiêu", "Target"},
	"pct_target":        {"Tỷ lệ đạt chỉ tiêu (%)", "% of target"},
	"of_households":     {"trên tổng số hộ", "of all households"},
	"of_adults":         {"trên dân số trưởng thành", "of the adult population"},
	"unit":              {"Đơn vị", "Unit"},
	"by_kind":           {"Theo loại hoạt động", "By kind of activity"},
	"kind":              {"Loại hoạt động", "Kind of activity"},
	"targets":           {"Chỉ tiêu của kỳ", "Targets of the period"},
	"target_period":     {"Kỳ chỉ tiêu", "Target period"},
	"metric":            {"Chỉ số", "Measure"},
	"sort_by":           {"Sắp xếp", "Sort by"},
	"sort_name":         {"Theo tên", "Name"},
	"sort_reached":      {"Số đạt được, cao trước", "Figure, highest first"},
	"sort_pct":          {"Tỷ lệ chỉ tiêu, cao trước", "Share of target, highest first"},
	"metric_people":     {"Người dân được hỗ trợ", "People reached"},
	"metric_households": {"Hộ được hỗ trợ", "Households reached"},
	"chart_title":       {"%s so với chỉ tiêu", "%s against target"},
	"chart_reached":     {"Đã đạt", "Reached"},
	"chart_target":      {"Chỉ tiêu", "Target"},
	"chart_no_target":   {"chưa có chỉ tiêu", "no target"},
	"no_targets":        {"Chưa có chỉ tiêu cho kỳ này.", "No targets for this period."},
	"no_activity":       {"Chưa có hoạt động nào trong kỳ này.", "No activity in this period."},
	"estimate_note":     {"Số hộ và dân số là số ước tính (dữ liệu minh hoạ), không phải số liệu chính thức.", "Household and population figures are estimates (demo data), not official counts."},
	"export_csv":        {"Tải CSV", "Download CSV"},
	"export_xlsx":       {"Xuất Excel", "Export to Excel"},
	"breadcrumb":        {"Đường dẫn", "Breadcrumb"},
	"counted_rule":      {"Chỉ tính hoạt động hoàn thành, không bị từ chối, không trùng lặp. Số người và số hộ đếm không trùng ở mọi cấp.", "Only completed activities that are not rejected or duplicates count. People and households are counted once at every level."},
	"level_province":    {"Theo tỉnh / thành phố", "By province"},
	"level_district":    {"Theo huyện / quận / thị xã", "By district"},
	"level_commune":     {"Theo xã / phường / đặc khu", "By commune / ward"},
	"level_hamlet":      {"Theo ấp / thôn / khóm / tổ dân phố", "By hamlet"},

	// Reviews.
	"reviews_title":       {"Duyệt nhật ký hoạt động", "Review activity logs"},
	"status":              {"Trạng thái", "Status"},
	"all":                 {"Tất cả", "All"},
	"status_pending":      {"Chờ duyệt", "Pending review"},
	"status_approved":     {"Đã duyệt", "Approved"},
	"status_rejected":     {"Bị từ chối", "Rejected"},
	"status_duplicate":    {"Trùng lặp", "Duplicate"},
	"hamlet":              {"Ấp/thôn", "Hamlet"},
	"volunteer":           {"Thành viên tổ", "Volunteer"},
	"team":                {"Tổ", "Team"},
	"conflict_only":       {"Chỉ nhật ký có xung đột", "Conflicts only"},
	"duplicate_only":      {"Chỉ nhật ký trùng lặp", "Duplicates only"},
	"filter":              {"Lọc", "Filter"},
	"clear_filter":        {"Bỏ lọc", "Clear"},
	"filters":             {"Bộ lọc", "Filters"},
	"time":                {"Thời điểm", "When"},
	"outcome":             {"Kết quả", "Outcome"},
	"outcome_completed":   {"Hoàn thành", "Completed"},
	"outcome_incomplete":  {"Chưa hoàn thành", "Not completed"},
	"persons":             {"Số người", "People"},
	"persons_n":           {"%s người", "%s people"},
	"note":                {"Ghi chú", "Note"},
	"marks":               {"Cần chú ý", "Flags"},
	"select":              {"Chọn", "Select"},
	"select_all":          {"Chọn tất cả", "Select all"},
	"reason":              {"Lý do (bắt buộc khi từ chối)", "Reason (required to reject)"},
	"approve_selected":    {"Duyệt các mục đã chọn", "Approve selected"},
	"reject_selected":     {"Từ chối các mục đã chọn", "Reject selected"},
	"approve":             {"Duyệt", "Approve"},
	"reject":              {"Từ chối", "Reject"},
	"details":             {"Chi tiết", "Details"},
	"conflict":            {"Xung đột", "Conflict"},
	"conflict_expl":       {"Nhật ký này đã được sửa cùng lúc trên hai thiết bị. Giá trị có thời điểm mới nhất được giữ; giá trị bị thay vẫn được lưu lại:", "This log was edited on two devices at once. The value with the latest clock was kept; the replaced value is kept here:"},
	"duplicate":           {"Trùng lặp", "Duplicate"},
	"dup_expl":            {"Người dân này đã được ghi nhận «%s» ở một nhật ký sớm hơn; chỉ nhật ký sớm nhất được tính, nhật ký này không được tính.", "This resident was already recorded for “%s” in an earlier log; only the earliest log counts, this one does not."},
	"canonical":           {"Nhật ký được tính", "The log that counts"},
	"canonical_outside":   {"một nhật ký sớm hơn ở đơn vị khác (cùng người dân)", "an earlier log of the same resident in another unit"},
	"field":               {"Trường", "Field"},
	"value":               {"Giá trị", "Value"},
	"clock":               {"Thời điểm sửa", "Edited at"},
	"device":              {"Thiết bị", "Device"},
	"kept":                {"được giữ", "kept"},
	"replaced":            {"bị thay", "replaced"},
	"next_page":           {"Trang sau →", "Next page →"},
	"first_page":          {"← Về trang đầu", "← First page"},
	"no_logs":             {"Không có nhật ký nào khớp bộ lọc.", "No logs match the filters."},
	"review_note":         {"Lý do", "Reason"},
	"reviewed":            {"Duyệt lúc", "Reviewed at"},
	"msg_approved":        {"Đã duyệt %d nhật ký.", "Approved %d logs."},
	"msg_rejected":        {"Đã từ chối %d nhật ký.", "Rejected %d logs."},
	"msg_review_failed":   {"%d nhật ký không thực hiện được: %s", "%d logs could not be changed: %s"},
	"msg_still_duplicate": {"%d nhật ký đã được duyệt nhưng vẫn là trùng lặp: với người dân này chỉ nhật ký sớm nhất được tính.", "%d logs were approved but are still duplicates: only this resident's earliest log counts."},
	"msg_none_selected":   {"Chưa chọn nhật ký nào.", "No log selected."},
	"msg_reason_needed":   {"Cần nhập lý do khi từ chối.", "A reason is required to reject."},
	"shown_count":         {"%d nhật ký trên trang này", "%d logs on this page"},

	// A log.
	"log_title":        {"Nhật ký hoạt động", "Activity log"},
	"log_id":           {"Mã nhật ký", "Log id"},
	"history":          {"Lịch sử các trường", "Field history"},
	"history_expl":     {"Mỗi lần một thiết bị gửi giá trị của một trường. Giá trị có thời điểm sửa mới nhất được giữ.", "Each value a device sent for a field. The value with the latest edit time is kept."},
	"no_history":       {"Chưa có lần sửa nào.", "No edits yet."},
	"duplicates_of":    {"Các nhật ký trùng với nhật ký này (không được tính)", "Logs that duplicate this one (not counted)"},
	"received_at":      {"Máy chủ nhận lúc", "Received at"},
	"status_not_found": {"Không tìm thấy trạng thái của nhật ký này trong hàng đợi duyệt (nhật ký quá cũ).", "This log's status was not found in the review queue (too old)."},
	"back_to_queue":    {"← Về hàng đợi duyệt", "← Back to the review queue"},

	"field_hamlet_id":   {"Ấp/thôn", "Hamlet"},
	"field_kind":        {"Loại hoạt động", "Kind"},
	"field_occurred_at": {"Thời điểm (đồng hồ điện thoại)", "When (phone clock)"},
	"field_age_band":    {"Nhóm tuổi", "Age band"},
	"field_gender":      {"Giới tính", "Gender"},
	"field_attendees":   {"Số người tham dự", "Attendees"},
	"field_outcome":     {"Kết quả", "Outcome"},
	"field_consent":     {"Người dân đồng ý", "Resident consented"},
	"field_note":        {"Ghi chú", "Note"},
	"field_lat":         {"Vĩ độ", "Latitude"},
	"field_lon":         {"Kinh độ", "Longitude"},
	"field_accuracy_m":  {"Độ chính xác (m)", "Accuracy (m)"},

	// Teams.
	"teams_title":  {"Kết quả hoạt động của tổ", "Team output"},
	"active_days":  {"Số ngày hoạt động", "Active days"},
	"members":      {"Thành viên", "Members"},
	"revoked":      {"đã thu hồi", "revoked"},
	"no_teams":     {"Chưa có tổ nào.", "No teams yet."},
	"show_members": {"Xem %d thành viên", "Show %d members"},

	// Devices.
	"devices_title":  {"Thiết bị cần chú ý", "Devices to look at"},
	"clock_off":      {"Đồng hồ thiết bị bị lệch", "Device clock is off"},
	"clock_off_expl": {"Lệch từ %s trở lên so với máy chủ, đo ở lần đồng bộ gần nhất. Báo cáo dùng thời điểm đã hiệu chỉnh; nên hướng dẫn thành viên chỉnh lại giờ điện thoại.", "Off by %s or more from the server, measured at the last sync. Reports use corrected times; ask the volunteer to set the phone's clock."},
	"offset":         {"Độ lệch", "Offset"},
	"ahead":          {"nhanh %s", "%s ahead"},
	"behind":         {"chậm %s", "%s behind"},
	"last_sync":      {"Đồng bộ gần nhất", "Last sync"},
	"stuck":          {"Thành viên có việc chưa đồng bộ", "Volunteers with work not yet synced"},
	"stuck_expl":     {"Điện thoại báo còn thao tác chưa đồng bộ từ %d ngày trở lên: nên nhắc thành viên mở ứng dụng ở nơi có sóng.", "The phone reported operations not yet synced for %d days or more: remind the volunteer to open the app where there is a signal."},
	"pending_ops":    {"Số thao tác chưa đồng bộ", "Unsynced operations"},
	"oldest_pending": {"Chưa đồng bộ từ", "Unsynced since"},
	"days_n":         {"%d ngày", "%d days"},
	"waiting":        {"Đã chờ", "Waiting"},
	"no_devices":     {"Không có thiết bị nào.", "No devices."},
	"stuck_after":    {"Chưa đồng bộ quá", "Unsynced for more than"},

	// Volunteers and enrolment.
	"volunteers_title": {"Đăng ký thành viên tổ", "Enrol volunteers"},
	"new_volunteer":    {"Thêm thành viên mới", "Add a volunteer"},
	"display_name":     {"Họ và tên", "Full name"},
	"create_and_issue": {"Tạo và cấp mã đăng ký thiết bị", "Create and issue an enrolment code"},
	"volunteer_list":   {"Thành viên tổ", "Volunteers"},
	"devices_n":        {"Thiết bị", "Devices"},
	"issue_code":       {"Cấp mã đăng ký", "Issue a code"},
	"choose":           {"— Chọn —", "— Choose —"},
	"no_volunteers":    {"Chưa có thành viên nào.", "No volunteers yet."},
	"code_title":       {"Mã đăng ký thiết bị", "Enrolment code"},
	"code_for":         {"Cho %s (%s)", "For %s (%s)"},
	"scan_hint":        {"Trên điện thoại của thành viên, mở ứng dụng, chọn «Đăng ký thiết bị» và quét mã QR này; hoặc gõ mã bên dưới.", "On the volunteer's phone, open the app, choose “Enrol this device” and scan this QR code, or type the code below."},
	"typed_code":       {"Mã để gõ", "Code to type"},
	"code_expires":     {"Mã dùng một lần, hết hạn lúc %s. Cấp mã mới thì mã cũ chưa dùng hết hiệu lực.", "The code works once and expires at %s. Issuing a new code ends the unused old one."},
	"code_secret":      {"Chỉ để điện thoại của thành viên quét mã này; đừng gửi ảnh mã qua Zalo hay mạng xã hội: ai có mã đều đăng ký được thiết bị cho thành viên này.", "Let only the volunteer's phone scan this code; do not send pictures of it in chats: anyone with it can enrol a device for this volunteer."},
	"back_to_list":     {"← Về danh sách thành viên", "← Back to the volunteers"},
	"msg_created":      {"Đã tạo thành viên %s.", "Created volunteer %s."},
	"qr_alt":           {"Mã QR đăng ký thiết bị", "Enrolment QR code"},
	"code_gone":        {"Mã chỉ hiện trên trình duyệt đã cấp và đến khi hết hạn. Hãy cấp mã mới.", "A code shows only in the browser that issued it, until it expires. Issue a new one."},
	"issue_new_code":   {"Cấp mã mới", "Issue a new code"},

	// Errors.
	"err_title":         {"Không thực hiện được", "Something went wrong"},
	"err_not_found":     {"Không tìm thấy", "Not found"},
	"err_not_found_msg": {"Trang hoặc dữ liệu này không tồn tại, hoặc nằm ngoài phạm vi đơn vị của bạn.", "This page or record does not exist, or it is outside your unit."},
	"err_forbidden":     {"Không có quyền", "Not allowed"},
	"err_forbidden_msg": {"Vai trò của bạn không dùng được chức năng này.", "Your role may not use this."},
	"err_csrf_msg":      {"Biểu mẫu đã hết hạn hoặc không gửi từ trang này. Hãy tải lại trang rồi thử lại.", "The form expired or was not sent from this site. Reload the page and try again."},
	"err_unavailable":   {"Chức năng này chưa được cấu hình trên máy chủ.", "This is not configured on this server."},
	"err_internal":      {"Máy chủ gặp lỗi. Vui lòng thử lại; nếu vẫn lỗi, báo quản trị viên kèm mã yêu cầu %s.", "The server failed. Please try again; if it keeps failing, tell the administrator the request id %s."},
	"err_invalid":       {"Yêu cầu không hợp lệ", "Invalid request"},
	"err_back":          {"← Về trang tổng quan", "← Back to the overview"},
}
