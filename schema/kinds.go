package schema

// Kind is an activity kind of the catalogue. Admins may edit the catalogue; DefaultKinds
// is what a new deployment starts with.
type Kind struct {
	Code          string `json:"code"`
	NameVI        string `json:"name_vi"`
	NameEN        string `json:"name_en"`
	OncePerPerson bool   `json:"once_per_person"` // a person is counted once, ever: later logs are duplicates
	Active        bool   `json:"active"`
	Sort          int    `json:"sort"`
}

// DefaultKinds is the default activity-kind catalogue (SPEC.md → Activity logs), with the
// Vietnamese names officials use (GLOSSARY.md).
var DefaultKinds = []Kind{
	{Code: "vneid_install", NameVI: "Cài đặt ứng dụng VNeID", NameEN: "VNeID app installed", Active: true, Sort: 1},
	{Code: "vneid_level2", NameVI: "Kích hoạt tài khoản định danh điện tử mức 2", NameEN: "Level-2 e-ID activated", OncePerPerson: true, Active: true, Sort: 2},
	{Code: "cashless_payment", NameVI: "Hướng dẫn thanh toán không dùng tiền mặt", NameEN: "Cashless payment set up", Active: true, Sort: 3},
	{Code: "digital_signature", NameVI: "Cài đặt chữ ký số cá nhân", NameEN: "Personal digital signature installed", OncePerPerson: true, Active: true, Sort: 4},
	{Code: "online_public_service", NameVI: "Hướng dẫn nộp hồ sơ dịch vụ công trực tuyến", NameEN: "Online public service filed", Active: true, Sort: 5},
	{Code: "ecommerce", NameVI: "Hỗ trợ đưa sản phẩm lên sàn thương mại điện tử", NameEN: "Products put on e-commerce", Active: true, Sort: 6},
	{Code: "digital_skills", NameVI: "Phổ cập kỹ năng số", NameEN: "Digital skills session", Active: true, Sort: 7},
	{Code: "local_app", NameVI: "Cài đặt ứng dụng của địa phương (ví dụ e-DongThap)", NameEN: "Local app installed", Active: true, Sort: 8},
	{Code: "other", NameVI: "Hoạt động khác", NameEN: "Other", Active: true, Sort: 9},
}
