package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/cdtsync/cdtsync/demo"
	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/server"
	"github.com/cdtsync/cdtsync/store/postgres"
	"github.com/cdtsync/cdtsync/store/sqlite"
	"github.com/cdtsync/cdtsync/sync/engine"
)

func (m *Main) serve(ctx context.Context, args []string) error {
	fs := m.flagSet("serve")
	addr := fs.String("addr", m.env("CDTSYNC_ADDR", ":8080"), "địa chỉ lắng nghe / listen address (env CDTSYNC_ADDR)")
	data := m.dataFlag(fs)
	database := m.databaseFlag(fs)
	reportDB := fs.String("report-database", m.Getenv("CDTSYNC_REPORT_DATABASE_URL"),
		"với --database: bản sao chỉ đọc (hot standby) để đọc báo cáo, vd. postgres://cdtsync@replica:5432/cdtsync / with --database: a read replica (hot standby) that reports read (env CDTSYNC_REPORT_DATABASE_URL)")
	batchDefault := 0
	if v := m.Getenv("CDTSYNC_REPORTS_BUILD_BATCH"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("CDTSYNC_REPORTS_BUILD_BATCH phải là một số / must be a number: %q", v)
		}
		batchDefault = n
	}
	buildBatch := fs.Int("reports-build-batch", batchDefault,
		"với --database: số nhật ký mỗi giao dịch thêm vào khi dựng lại số liệu báo cáo (0: 500) / with --database: logs each transaction of a build of the report aggregates adds (0: 500; env CDTSYNC_REPORTS_BUILD_BATCH)")
	demoFlag := fs.Bool("demo", false, "nạp dữ liệu minh hoạ nếu cơ sở dữ liệu còn trống / load demo data into an empty database")
	metricsToken := fs.String("metrics-token", m.Getenv("CDTSYNC_METRICS_TOKEN"), "nếu đặt, /metrics cần mã này / if set, /metrics needs this bearer token")
	publicURL := fs.String("public-url", m.Getenv("CDTSYNC_PUBLIC_URL"), "địa chỉ điện thoại dùng để kết nối, in vào mã QR đăng ký / base URL phones use, put in enrolment QR codes (env CDTSYNC_PUBLIC_URL)")
	pprofAddr := fs.String("pprof", m.Getenv("CDTSYNC_PPROF"), "nếu đặt, phục vụ /debug/pprof/ tại địa chỉ này (chỉ dùng 127.0.0.1) / if set, serve /debug/pprof/ on this address, loopback only (env CDTSYNC_PPROF)")
	trustProxy := fs.Bool("trust-proxy", m.Getenv("CDTSYNC_TRUST_PROXY") == "1", "lấy địa chỉ máy khách từ X-Forwarded-For (sau reverse proxy) / take the client address from X-Forwarded-For behind a reverse proxy (env CDTSYNC_TRUST_PROXY=1)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := m.logger()
	if *pprofAddr != "" {
		stop, err := servePprof(*pprofAddr, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	if *buildBatch < 0 {
		return errors.New("--reports-build-batch phải ≥ 0 / --reports-build-batch must be ≥ 0")
	}
	if *reportDB != "" && (*database == "" || !isPostgresURL(*reportDB)) {
		return errors.New("--report-database cần --database và là postgres://… / --report-database needs --database and must be a postgres://… URL")
	}
	if *database == "" {
		unlock, err := lockData(*data) // one server per data directory; restore waits for it to stop
		if err != nil {
			return err
		}
		defer unlock()
	} // else several servers share the database; the data directory holds only keys/
	db, err := m.openStoreWith(ctx, *data, *database, postgres.Options{ReportURL: *reportDB, BuildBatch: *buildBatch})
	if err != nil {
		return err
	}
	defer db.Close()
	keys, err := m.loadKeys(*data)
	if err != nil {
		return err
	}
	pctx, stopPrune := context.WithCancel(ctx)
	defer stopPrune()
	go m.pruneCredentials(pctx, db, log)

	// Listen before anything else is printed: a busy port fails at once.
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("lắng nghe / listen %s: %w", *addr, err)
	}
	defer ln.Close()
	if *demoFlag {
		start := time.Now()
		fmt.Fprintln(m.Stdout, "Đang nạp dữ liệu minh hoạ (lần đầu mất khoảng 10 giây) / loading demo data (about 10 s the first time)…")
		d, err := demo.LoadStore(ctx, db, m.Now)
		if err != nil {
			return fmt.Errorf("dữ liệu minh hoạ / demo data: %w", err)
		}
		log.Info("demo data loaded", "ms", time.Since(start).Milliseconds(), "new_logs", d.Activity.Logs)
	}
	// Report aggregates missing or stale (a database from before them, a unit moved since)
	// are built now rather than on the first report. A PostgreSQL build longer than a few
	// seconds goes on in the background while this server serves (reports answer 503 with
	// its progress until it ends); SQLite builds before serving.
	if err := db.EnsureReports(ctx); err != nil {
		var se *schema.Error
		if !errors.As(err, &se) || se.Code != schema.CodeUnavailable {
			return fmt.Errorf("báo cáo / reports: %w", err)
		}
		log.Warn("report aggregates are being built in the background; reports answer 503 until they are ready", "progress", se.Message)
	}
	srv := server.New(server.Config{
		Logger:       log,
		Now:          m.Now,
		MetricsToken: *metricsToken,
		Health:       db,
		Keys:         keys,
		Accounts:     db,
		Units:        db,
		Sync:         engine.New(db, m.Now),
		Reviews:      db,
		Reports:      db,
		PublicURL:    *publicURL,
		TrustProxy:   *trustProxy,
	})
	switch db := db.(type) {
	case *sqlite.DB:
		registerStoreMetrics(srv.Registry(), db, m.Now) // cmd/cdtsync/metrics.go
	case *postgres.DB:
		registerPostgresMetrics(srv.Registry(), db, m.Now) // cmd/cdtsync/metrics_postgres.go
	}
	url := "http://" + displayAddr(ln.Addr().String())
	log.Info("cdtsync serving", "addr", ln.Addr().String(), "data", *data, "store", storeName(*database), "reports_on_replica", *reportDB != "")
	fmt.Fprintf(m.Stdout, "cdtsync đang chạy tại / serving at %s\n", url)
	fmt.Fprintf(m.Stdout, "Bảng điều khiển / dashboard: %s/web/\n", url)
	if *demoFlag {
		fmt.Fprintf(m.Stdout, "Tài khoản minh hoạ / demo sign-ins (POST %s/v1/auth/login):\n", url)
		for _, si := range demo.SignIns() {
			fmt.Fprintf(m.Stdout, "  %-9s %-12s %s — %s, %s\n", si.Username, si.Password, si.Role, si.DisplayName, si.Unit)
		}
		fmt.Fprintf(m.Stdout, "API: %s/openapi.json · sức khoẻ / health: %s/readyz\n", url, url)
	}
	if m.Listening != nil {
		m.Listening(ln.Addr().String())
	}
	err = srv.Serve(ctx, ln, 20*time.Second)
	log.Info("cdtsync stopped")
	return err
}

// displayAddr turns a listen address into one a browser can open.
func displayAddr(a string) string {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return a
	}
	if host == "" || host == "::" || host == "0.0.0.0" {
		host = "localhost"
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host + ":" + port
}

func (m *Main) migrate(ctx context.Context, args []string) error {
	fs := m.flagSet("migrate")
	data := m.dataFlag(fs)
	database := m.databaseFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	var v int
	if *database != "" {
		db, err := m.openStore(ctx, *data, *database)
		if err != nil {
			return err
		}
		defer db.Close()
		if v, err = postgres.SchemaVersion(ctx, db.(*postgres.DB).Pool()); err != nil {
			return err
		}
	} else {
		db, err := sqlite.Open(ctx, *data, sqlite.Options{})
		if err != nil {
			return err
		}
		defer db.Close()
		if v, err = sqlite.SchemaVersion(ctx, db.WriteDB()); err != nil {
			return err
		}
	}
	fmt.Fprintf(m.Stdout, "Cơ sở dữ liệu ở lược đồ phiên bản %d / database at schema version %d\n", v, v)
	return nil
}

// storeName names the store for logs, without the URL (it may hold a password).
func storeName(database string) string {
	if database != "" {
		return "postgres"
	}
	return "sqlite"
}
