package mobile_test

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cdtsync/cdtsync/clientsdk/mobile"
	"github.com/cdtsync/cdtsync/clientsdk/sdktest"
	"github.com/cdtsync/cdtsync/schema"
)

// keychain is an app's secure storage.
type keychain struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (k *keychain) Get(key string) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.m[key], nil
}

func (k *keychain) Put(key string, v []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.m[key] = append([]byte(nil), v...)
	return nil
}

func (k *keychain) Delete(key string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.m, key)
	return nil
}

type progress struct {
	mu   sync.Mutex
	seen []string
}

func (p *progress) OnProgress(volunteer int64, phase string, done, total int64) {
	p.mu.Lock()
	p.seen = append(p.seen, phase)
	p.mu.Unlock()
}

// TestMobileFacade drives the bindable API as an Android app would: JSON in, JSON out,
// credentials in the app's own secure storage.
func TestMobileFacade(t *testing.T) {
	srv := sdktest.Start(t)
	hong := srv.Volunteer(t, "Nguyễn Thị Hồng", srv.TeamSaDec)
	kc := &keychain{m: map[string][]byte{}}
	c, err := mobile.Open(filepath.Join(t.TempDir(), "cdtsync.db"), "", "Redmi của Hồng", kc)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pr := &progress{}
	c.SetProgressListener(pr)

	code := func(err error) string {
		t.Helper()
		var e mobile.Error
		if err == nil || json.Unmarshal([]byte(err.Error()), &e) != nil || e.Message == "" {
			t.Fatalf("error %v is not JSON {code, message}", err)
		}
		return e.Code
	}
	_, err = c.Record(`{"hamlet_id": 1, "kind": "other"}`)
	if code(err) != schema.CodeUnauthorized {
		t.Errorf("record before enrolment: %v", err)
	}
	qr := "cdtsync://enroll?code=" + srv.Code(t, srv.TeamSaDec, hong) + "&server=" + srv.URL
	vj, err := c.Enroll("", qr)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(vj, `"display_name":"Nguyễn Thị Hồng"`) || c.CurrentVolunteer() != hong {
		t.Errorf("enrolled %s", vj)
	}
	if len(kc.m) != 2 {
		t.Errorf("secure storage holds %d secrets, want the citizen key and the tokens", len(kc.m))
	}
	lj, err := c.Record(`{"hamlet_id": ` + itoa(srv.VinhPhuoc) + `, "kind": "vneid_level2", "cccd": "087190012345", "consent": true,
		"occurred_at": "2026-05-04T09:30:00+07:00", "note": "Bà Sáu"}`)
	if err != nil {
		t.Fatal(err)
	}
	var l struct {
		ID         string `json:"id"`
		CitizenRef string `json:"citizen_ref"`
		OccurredAt string `json:"occurred_at"`
		Pending    int    `json:"pending_ops"`
	}
	json.Unmarshal([]byte(lj), &l)
	if len(l.CitizenRef) != 64 || l.OccurredAt != "2026-05-04T09:30:00+07:00" || l.Pending != 1 {
		t.Errorf("recorded %s", lj)
	}
	if _, err := c.Record(`{"hamlet_id": 1, "kind": "other", "cccd": "087190012345"}`); code(err) != schema.CodeConsentRequired {
		t.Errorf("no consent: %v", err)
	}
	if _, err := c.Record(`{"hamlet": 1}`); code(err) != schema.CodeInvalid {
		t.Errorf("unknown JSON field: %v", err)
	}
	if err := mobile.ValidateCCCD("003123456789"); code(err) != schema.CodeInvalidField {
		t.Errorf("ValidateCCCD: %v", err)
	}
	if _, err := c.Edit(l.ID, `{"note": "Bà Sáu, 78 tuổi"}`); err != nil {
		t.Fatal(err)
	}
	rj, err := c.Sync()
	if err != nil || rj != `{"pushed":2,"rejected":0,"pulled":`+rj[len(`{"pushed":2,"rejected":0,"pulled":`):] {
		t.Fatalf("sync %s %v", rj, err)
	}
	pr.mu.Lock()
	if len(pr.seen) == 0 {
		t.Errorf("no progress reported")
	}
	pr.mu.Unlock()
	for name, fn := range map[string]func() (string, error){"logs": func() (string, error) { return c.Logs(false) },
		"hamlets": c.Hamlets, "kinds": c.Kinds, "team": c.Team, "targets": c.Targets, "status": c.Status, "volunteers": c.Volunteers} {
		s, err := fn()
		if err != nil || !json.Valid([]byte(s)) {
			t.Errorf("%s: %s %v", name, s, err)
		}
	}
	logs, _ := c.Logs(false)
	if !strings.Contains(logs, "Bà Sáu, 78 tuổi") || !strings.Contains(logs, `"synced":true`) {
		t.Errorf("logs %s", logs)
	}
	if err := c.Delete(l.ID); err != nil {
		t.Fatal(err)
	}
	if logs, _ := c.Logs(false); logs != "[]" {
		t.Errorf("after delete: %s", logs)
	}
}

func itoa(v int64) string { b, _ := json.Marshal(v); return string(b) }

// TestMobileAPIIsBindable holds the package's exported API to the types gomobile binds:
// no maps, no slices but []byte, no generics, no channels or funcs, no other packages'
// types.
func TestMobileAPIIsBindable(t *testing.T) {
	fset := token.NewFileSet()
	names, _ := filepath.Glob("*.go")
	var files []*ast.File
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, n, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	allowed := map[string]bool{"string": true, "bool": true, "int": true, "int32": true, "int64": true,
		"float32": true, "float64": true, "error": true, "[]byte": true}
	local := map[string]bool{}
	for _, f := range files {
		for _, d := range f.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.TYPE {
				for _, s := range g.Specs {
					ts := s.(*ast.TypeSpec)
					if ts.Name.IsExported() {
						local[ts.Name.Name] = true
						if ts.TypeParams != nil {
							t.Errorf("generic type %s", ts.Name.Name)
						}
					}
				}
			}
		}
	}
	check := func(where string, e ast.Expr) {
		switch x := e.(type) {
		case *ast.Ident:
			if allowed[x.Name] || local[x.Name] {
				return
			}
		case *ast.StarExpr:
			if id, ok := x.X.(*ast.Ident); ok && local[id.Name] {
				return
			}
		case *ast.ArrayType:
			if id, ok := x.Elt.(*ast.Ident); ok && x.Len == nil && id.Name == "byte" {
				return
			}
		}
		t.Errorf("%s: type %s cannot be bound by gomobile", where, types(fset, e))
	}
	for _, f := range files {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				if d.Recv != nil {
					recv := types(fset, d.Recv.List[0].Type)
					if !local[strings.TrimPrefix(recv, "*")] {
						continue
					}
				}
				if d.Type.TypeParams != nil {
					t.Errorf("generic func %s", d.Name.Name)
				}
				for _, fl := range []*ast.FieldList{d.Type.Params, d.Type.Results} {
					if fl == nil {
						continue
					}
					for _, p := range fl.List {
						check(d.Name.Name, p.Type)
					}
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					ts, ok := s.(*ast.TypeSpec)
					if !ok || !ts.Name.IsExported() {
						continue
					}
					switch tt := ts.Type.(type) {
					case *ast.StructType:
						for _, fld := range tt.Fields.List {
							for _, n := range fld.Names {
								if n.IsExported() {
									check(ts.Name.Name+"."+n.Name, fld.Type)
								}
							}
						}
					case *ast.InterfaceType:
						for _, m := range tt.Methods.List {
							ft := m.Type.(*ast.FuncType)
							for _, fl := range []*ast.FieldList{ft.Params, ft.Results} {
								if fl == nil {
									continue
								}
								for _, p := range fl.List {
									check(ts.Name.Name+"."+m.Names[0].Name, p.Type)
								}
							}
						}
					}
				}
			}
		}
	}
}

func types(fset *token.FileSet, e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.StarExpr:
		return "*" + types(fset, x.X)
	case *ast.SelectorExpr:
		return types(fset, x.X) + "." + x.Sel.Name
	case *ast.ArrayType:
		return "[]" + types(fset, x.Elt)
	case *ast.MapType:
		return "map[" + types(fset, x.Key) + "]" + types(fset, x.Value)
	}
	return fmt.Sprintf("%T", e)
}
