package clientsdk_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPhoneDependencies holds what the phone's code may depend on: no server, store, web
// framework or token-signing code ends up in an app (sdktest, which starts a server for
// tests, is not part of it), and no cgo package.
func TestPhoneDependencies(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool")
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}} {{if .CgoFiles}}cgo{{end}}",
		"github.com/cdtsync/cdtsync/clientsdk", "github.com/cdtsync/cdtsync/clientsdk/mobile").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := []string{"github.com/cdtsync/cdtsync/server", "github.com/cdtsync/cdtsync/store", "github.com/cdtsync/cdtsync/auth",
		"github.com/cdtsync/cdtsync/sync/engine", "github.com/cdtsync/cdtsync/clientsdk/sdktest", "github.com/labstack/echo",
		"github.com/golang-jwt/jwt", "github.com/prometheus"}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, cgo, _ := strings.Cut(line, " ")
		for _, f := range forbidden {
			if strings.HasPrefix(pkg, f) {
				t.Errorf("the phone's code depends on %s", pkg)
			}
		}
		if cgo == "cgo" && pkg != "runtime/cgo" && !strings.HasPrefix(pkg, "net") && !strings.HasPrefix(pkg, "os/user") {
			t.Errorf("the phone's code depends on cgo package %s", pkg)
		}
	}
}
