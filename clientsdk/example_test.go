package clientsdk_test

import (
	"context"
	"fmt"
	"log"
	"path/filepath"

	"github.com/cdtsync/cdtsync/clientsdk"
	"github.com/cdtsync/cdtsync/clientsdk/sdktest"
	"github.com/cdtsync/cdtsync/schema"
)

// demo is a real cdtsync server on 127.0.0.1 for the examples, with an enrolment code a
// coordinator issued for Nguyễn Thị Hồng of Tổ CNSCĐ khóm Vĩnh Phước, Phường Sa Đéc.
type demo struct {
	*sdktest.Server
	env  *sdktest.Standalone
	code string
	dir  string // the app's private storage
}

func startDemo() *demo {
	env := &sdktest.Standalone{}
	srv := sdktest.Start(env)
	hong := srv.Volunteer(env, "Nguyễn Thị Hồng", srv.TeamSaDec)
	return &demo{Server: srv, env: env, code: srv.Code(env, srv.TeamSaDec, hong), dir: env.TempDir()}
}

func (d *demo) Close() { d.env.Close() }

// phone opens the SDK and enrols Hồng, as the examples after ExampleClient_Enroll start.
func (d *demo) phone() *clientsdk.Client {
	ctx := context.Background()
	c, err := clientsdk.Open(ctx, filepath.Join(d.dir, "cdtsync.db"), clientsdk.Options{DeviceName: "Redmi của Hồng"})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.Enroll(ctx, d.URL, d.code); err != nil {
		log.Fatal(err)
	}
	return c
}

func ExampleOpen() {
	d := startDemo()
	defer d.Close()
	ctx := context.Background()

	// One file in the app's private storage (on Android, getFilesDir()).
	c, err := clientsdk.Open(ctx, filepath.Join(d.dir, "cdtsync.db"), clientsdk.Options{DeviceName: "Redmi của Hồng"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println("device id made:", len(c.DeviceID()) == 36)
	_, err = c.Current(ctx)
	fmt.Println("before enrolment:", schema.ErrorCode(err))
	// Output:
	// device id made: true
	// before enrolment: unauthorized
}

func ExampleClient_Enroll() {
	d := startDemo()
	defer d.Close()
	ctx := context.Background()
	c, err := clientsdk.Open(ctx, filepath.Join(d.dir, "cdtsync.db"), clientsdk.Options{DeviceName: "Redmi của Hồng"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	// The code as the coordinator shows it (or the text of its QR code).
	v, err := c.Enroll(ctx, d.URL, d.code)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Name, v.Current)
	// A code works once: the same phone may redeem it again for a few minutes (its first
	// answer may have been lost on the way), any other phone is refused.
	other, err := clientsdk.Open(ctx, filepath.Join(d.dir, "other.db"), clientsdk.Options{DeviceName: "Máy khác"})
	if err != nil {
		log.Fatal(err)
	}
	defer other.Close()
	_, err = other.Enroll(ctx, d.URL, d.code)
	fmt.Println("on another phone:", schema.ErrorCode(err))
	// Output:
	// Nguyễn Thị Hồng true
	// on another phone: unauthorized
}

func ExampleClient_Record() {
	d := startDemo()
	defer d.Close()
	ctx := context.Background()
	c := d.phone()
	defer c.Close()

	// Offline: returns at once, durably stored. The CCCD is hashed on the phone.
	l, err := c.Record(ctx, clientsdk.Entry{
		HamletID: d.VinhPhuoc,
		Kind:     "vneid_level2",
		CCCD:     "087 190 012 345",
		Consent:  true,
		AgeBand:  "60_plus",
		Gender:   "female",
		Note:     "Bà Sáu, 78 tuổi",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(*l.Kind, *l.Outcome, *l.Attendees, "ref:", len(*l.CitizenRef), "hex digits")
	fmt.Println("synced:", l.Synced, "pending:", l.PendingOps)

	// A mistake is shown at once, with the server's code.
	_, err = c.Record(ctx, clientsdk.Entry{HamletID: d.VinhPhuoc, Kind: "vneid_level2", CCCD: "087 190 012"})
	fmt.Println(schema.ErrorCode(err))
	// Output:
	// vneid_level2 completed 1 ref: 64 hex digits
	// synced: false pending: 1
	// consent_required
}

func ExampleClient_Edit() {
	d := startDemo()
	defer d.Close()
	ctx := context.Background()
	c := d.phone()
	defer c.Close()
	l, _ := c.Record(ctx, clientsdk.Entry{HamletID: d.VinhPhuoc, Kind: "cashless_payment", Note: "Chị Tư bán cá"})
	c.Sync(ctx)

	note := "Chị Tư bán cá, đã có mã QR VietQR"
	l, err := c.Edit(ctx, l.ID, clientsdk.Changes{Note: &note})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(*l.Note, "| pending:", l.PendingOps)
	c.Sync(ctx)
	l, _ = c.Log(ctx, l.ID)
	fmt.Println("synced:", l.Synced, "status:", l.Status)
	// Output:
	// Chị Tư bán cá, đã có mã QR VietQR | pending: 1
	// synced: true status: pending
}

func ExampleClient_Delete() {
	d := startDemo()
	defer d.Close()
	ctx := context.Background()
	c := d.phone()
	defer c.Close()
	l, _ := c.Record(ctx, clientsdk.Entry{HamletID: d.CaiSon, Kind: "other", Note: "Ghi nhầm"})

	if err := c.Delete(ctx, l.ID); err != nil {
		log.Fatal(err)
	}
	logs, _ := c.Logs(ctx, clientsdk.LogFilter{})
	fmt.Println("shown:", len(logs))
	rep, _ := c.Sync(ctx)
	fmt.Println("pushed:", rep.Pushed)
	// Output:
	// shown: 0
	// pushed: 2
}

func ExampleClient_Sync() {
	d := startDemo()
	defer d.Close()
	ctx := context.Background()
	c := d.phone()
	defer c.Close()
	for _, note := range []string{"Ông Năm", "Bà Bảy", "Anh Tám"} {
		c.Record(ctx, clientsdk.Entry{HamletID: d.DongHue, Kind: "vneid_install", Note: note})
	}

	// When a signal comes. Safe to interrupt: the next call resumes.
	rep, err := c.Sync(ctx)
	if err != nil {
		log.Fatal(err) // a *clientsdk.NetworkError: try again later
	}
	fmt.Printf("pushed %d, rejected %d\n", rep.Pushed, rep.Rejected)
	hamlets, _ := c.Hamlets(ctx) // the pick-list, for offline use
	for _, h := range hamlets {
		fmt.Println(h.Name)
	}
	// Output:
	// pushed 3, rejected 0
	// Ấp Đông Huề
	// Khóm Cái Sơn
	// Khóm Vĩnh Phước
}

func ExampleClient_Status() {
	d := startDemo()
	defer d.Close()
	ctx := context.Background()
	c := d.phone()
	defer c.Close()
	c.Record(ctx, clientsdk.Entry{HamletID: d.VinhPhuoc, Kind: "digital_skills", Attendees: 25})
	// A hamlet of another ward: the phone has no pick-list yet, the server refuses it.
	c.Record(ctx, clientsdk.Entry{HamletID: d.MyThuong, Kind: "digital_skills"})
	st, _ := c.Status(ctx)
	fmt.Println("before sync, pending:", st.Volunteers[0].PendingOps)
	c.Sync(ctx)

	st, err := c.Status(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, v := range st.Volunteers {
		fmt.Println(v.Name, "pending:", v.PendingOps, "synced:", !v.LastSyncAt.IsZero())
		for _, r := range v.Rejected {
			fmt.Println("rejected:", r.Code)
		}
	}
	// Output:
	// before sync, pending: 2
	// Nguyễn Thị Hồng pending: 0 synced: true
	// rejected: unknown_hamlet
}
