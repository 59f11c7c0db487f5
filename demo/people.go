package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/cdtsync/cdtsync/auth"
	"github.com/cdtsync/cdtsync/schema"
)

// Demo sign-ins, printed by `make run`. For a demonstration only: a real deployment makes
// its own accounts with `cdtsync user add`.
const (
	AdminUser       = "admin"
	CoordinatorUser = "sadec"
	OfficerUser     = "dongthap"
	OtherCoordUser  = "mytra"
	DemoPassword    = "cdtsync-demo-2026"
)

// SaDecTeams and SaDecMembers are Phường Sa Đéc's team sizes as reported by the commune
// (46 Tổ CNSCĐ, 352 members).
const (
	SaDecTeams   = 46
	SaDecMembers = 352
)

// SignIn is a demo staff account.
type SignIn struct {
	Username, Password, Role, DisplayName, Unit string
}

// Volunteer is a demo volunteer with its enrolled phone.
type Volunteer struct {
	Actor  schema.Actor
	Name   string
	Hamlet int64 // the hamlet its team works in most
}

// People are the demo's accounts.
type People struct {
	SignIns     []SignIn
	Coordinator map[int64]schema.Actor // by commune
	Officer     schema.Actor
	Volunteers  []Volunteer
	Teams       int
}

// Vietnamese names, for generated volunteers.
var (
	familyNames = []string{"Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Hoàng", "Võ", "Phan", "Trương", "Bùi", "Đặng", "Đỗ", "Ngô", "Hồ", "Dương", "Lý"}
	femaleGiven = []string{"Thị Hồng", "Thị Lan", "Ngọc Mai", "Thị Hương", "Thanh Thảo", "Thu Trang", "Thị Nhung", "Ngọc Diễm", "Hải Yến", "Kim Phượng", "Tường Vy", "Bảo Ngân"}
	maleGiven   = []string{"Văn Minh", "Anh Tuấn", "Quốc Hùng", "Văn Dũng", "Hữu Phúc", "Tấn Tài", "Minh Khang", "Trọng Nghĩa", "Phước Lộc", "Minh Trí", "Văn Hậu", "Thanh Tâm"}
)

func personName(r *rand.Rand) string {
	given := femaleGiven
	if r.IntN(2) == 0 {
		given = maleGiven
	}
	return familyNames[r.IntN(len(familyNames))] + " " + given[r.IntN(len(given))]
}

// loadPeople creates the demo's teams, staff and volunteers, with an enrolled phone each
// (some phones shared by two volunteers of a family). It returns nil, nil if they exist.
func loadPeople(ctx context.Context, db Store, u DemoUnits, now func() time.Time) (*People, error) {
	if _, err := db.StaffCredentials(ctx, CoordinatorUser); err == nil {
		return nil, nil // loaded before
	}
	hash, err := auth.HashPassword(DemoPassword, auth.Params{})
	if err != nil {
		return nil, err
	}
	p := &People{Coordinator: map[int64]schema.Actor{}}
	admin, err := db.CreateUserUnscoped(ctx, schema.NewUser{Role: schema.RoleAdmin, DisplayName: "Quản trị viên Sở Khoa học và Công nghệ Đồng Tháp",
		UnitID: u.Province, Username: AdminUser, PasswordHash: hash})
	if err != nil {
		return nil, fmt.Errorf("demo admin: %w", err)
	}
	adminActor, err := db.ActorFor(ctx, admin.ID, 0)
	if err != nil {
		return nil, err
	}
	staff := func(role, name, username string, unit int64, unitName string) (schema.Actor, error) {
		usr, err := db.CreateUser(ctx, adminActor, schema.NewUser{Role: role, DisplayName: name, UnitID: unit, Username: username, PasswordHash: hash})
		if err != nil {
			return schema.Actor{}, fmt.Errorf("demo %s: %w", username, err)
		}
		p.SignIns = append(p.SignIns, SignIn{Username: username, Password: DemoPassword, Role: role, DisplayName: name, Unit: unitName})
		return db.ActorFor(ctx, usr.ID, 0)
	}
	p.SignIns = append(p.SignIns, SignIn{Username: AdminUser, Password: DemoPassword, Role: schema.RoleAdmin, DisplayName: admin.DisplayName, Unit: "Tỉnh Đồng Tháp"})
	if p.Coordinator[u.SaDec], err = staff(schema.RoleCoordinator, "Phạm Thị Lan", CoordinatorUser, u.SaDec, "Phường Sa Đéc"); err != nil {
		return nil, err
	}
	if p.Officer, err = staff(schema.RoleOfficer, "Đặng Quốc Bảo", OfficerUser, u.Province, "Tỉnh Đồng Tháp"); err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(2026, 11))
	communes := make([]string, 0, len(u.Communes))
	for code := range u.Communes {
		communes = append(communes, code)
	}
	sort.Strings(communes)
	phone := 0
	for _, code := range communes {
		commune := u.Communes[code]
		hamlets := u.Hamlets[commune]
		coord, ok := p.Coordinator[commune]
		if !ok {
			c, err := db.Unit(ctx, commune)
			if err != nil {
				return nil, err
			}
			username := ""
			if code == "29888" {
				username = OtherCoordUser
			} else {
				username = "xa" + code
			}
			if coord, err = staff(schema.RoleCoordinator, personName(r), username, commune, c.Name); err != nil {
				return nil, err
			}
			p.Coordinator[commune] = coord
		}
		teams, members := 2, 16
		if commune == u.SaDec {
			teams, members = SaDecTeams, SaDecMembers
		}
		for ti := 0; ti < teams; ti++ {
			hamlet := hamlets[ti%len(hamlets)]
			h, err := db.Unit(ctx, hamlet)
			if err != nil {
				return nil, err
			}
			name := "Tổ CNSCĐ " + h.Name
			if ti >= len(hamlets) {
				name += fmt.Sprintf(" (tổ %d)", ti/len(hamlets)+1)
			}
			team, err := db.CreateTeam(ctx, coord, name, commune)
			if err != nil {
				return nil, fmt.Errorf("demo team %s: %w", name, err)
			}
			p.Teams++
			// Members spread evenly over the teams.
			n := members / teams
			if ti < members%teams {
				n++
			}
			for mi := 0; mi < n; mi++ {
				vname := personName(r)
				vol, err := db.CreateUser(ctx, coord, schema.NewUser{Role: schema.RoleVolunteer, DisplayName: vname, TeamID: &team.ID})
				if err != nil {
					return nil, fmt.Errorf("demo volunteer: %w", err)
				}
				// One family in fifteen shares a phone between two members.
				if mi == 0 || r.IntN(15) != 0 {
					phone++
				}
				deviceID := fmt.Sprintf("demo-phone-%04d", phone)
				code := auth.NewEnrollmentCode()
				codeHash, _ := auth.HashEnrollmentCode(code)
				if _, err := db.IssueEnrollment(ctx, coord, vol.ID, codeHash, now().Add(auth.EnrollmentTTL)); err != nil {
					return nil, err
				}
				_, refreshHash := auth.NewRefreshToken()
				enrolled, err := db.RedeemEnrollment(ctx, schema.EnrollmentRedeem{CodeHash: codeHash, DeviceID: deviceID,
					DeviceName: phoneModels[phone%len(phoneModels)],
					Refresh:    schema.RefreshGrant{Hash: refreshHash, FamilyID: auth.NewFamilyID(), ExpiresAt: now().Add(auth.RefreshTTLDevice)}})
				if err != nil {
					return nil, fmt.Errorf("demo enrolment: %w", err)
				}
				actor, err := db.ActorFor(ctx, vol.ID, enrolled.Device.ID)
				if err != nil {
					return nil, err
				}
				p.Volunteers = append(p.Volunteers, Volunteer{Actor: actor, Name: vname, Hamlet: hamlet})
			}
		}
	}
	return p, nil
}

var phoneModels = []string{"Samsung Galaxy A05", "Oppo A18", "Xiaomi Redmi 13C", "Vivo Y17s", "Nokia C32", "Realme C53"}

// SignIns lists the demo's staff sign-ins, for the start-up message.
func SignIns() []SignIn {
	return []SignIn{
		{Username: AdminUser, Password: DemoPassword, Role: schema.RoleAdmin, DisplayName: "Quản trị viên", Unit: "Tỉnh Đồng Tháp"},
		{Username: CoordinatorUser, Password: DemoPassword, Role: schema.RoleCoordinator, DisplayName: "Phạm Thị Lan", Unit: "Phường Sa Đéc"},
		{Username: OtherCoordUser, Password: DemoPassword, Role: schema.RoleCoordinator, DisplayName: "cán bộ điều phối", Unit: "Phường Mỹ Trà"},
		{Username: OfficerUser, Password: DemoPassword, Role: schema.RoleOfficer, DisplayName: "Đặng Quốc Bảo", Unit: "Tỉnh Đồng Tháp"},
	}
}
