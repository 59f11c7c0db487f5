package server

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/cdtsync/cdtsync/schema"
)

// TestOpenAPIMatchesRouter holds the whole OpenAPI document and the router together:
// every route is documented, every documented operation is routed, and every $ref
// resolves. Adding a route without documenting it (or the reverse) fails here.
func TestOpenAPIMatchesRouter(t *testing.T) {
	env := newTestEnv(t)
	doc, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, op := range OpenAPIOperations(doc) {
		documented[op] = true
	}
	routed := map[string]bool{}
	for _, r := range env.Srv.Echo().Routes() {
		k := r.Method + " " + r.Path
		routed[k] = true
		if !documented[k] {
			t.Errorf("route %s is not in the OpenAPI document", k)
		}
	}
	for k := range documented {
		if !routed[k] {
			t.Errorf("documented %s is not routed", k)
		}
	}
	b, _ := json.Marshal(doc)
	comps := doc["components"].(map[string]map[string]any)
	for _, m := range regexp.MustCompile(`"\$ref":"#/components/([^/]+)/([^"]+)"`).FindAllStringSubmatch(string(b), -1) {
		if _, ok := comps[m[1]][m[2]]; !ok {
			t.Errorf("$ref %s/%s does not resolve", m[1], m[2])
		}
	}
	// The served document is the same.
	var served map[string]any
	if status, _ := env.do("GET", "/openapi.json", "", nil, &served); status != 200 || served["openapi"] != "3.0.3" {
		t.Fatalf("GET /openapi.json: %d %v", status, served["openapi"])
	}
}

// perOpCodes are the rejection codes a push result may carry.
var perOpCodes = []string{schema.CodeInvalid, schema.CodeInvalidField, schema.CodeUnknownHamlet, schema.CodeUnknownKind,
	schema.CodeNoteTooLong, schema.CodeConsentRequired, schema.CodeClockAhead, schema.CodeOccurredInFuture,
	schema.CodeLogDeleted, schema.CodeNotOwner, schema.CodeOpIDReused}

// TestProtocolDocMatchesCode holds docs/PROTOCOL.md, the OpenAPI document and the code
// together: every per-operation code is documented in both, every client field and the
// limits are in the document with their values.
func TestProtocolDocMatchesCode(t *testing.T) {
	raw, err := os.ReadFile("../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	md := string(raw)
	for _, c := range perOpCodes {
		if !strings.Contains(md, "| `"+c+"` |") {
			t.Errorf("PROTOCOL.md has no row for rejection code %s", c)
		}
	}
	doc, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	schemas := doc["components"].(map[string]map[string]any)["schemas"]
	enum := schemas["OpResult"].(map[string]any)["properties"].(map[string]any)["code"].(map[string]any)["enum"].([]any)
	var got []string
	for _, e := range enum {
		got = append(got, e.(string))
	}
	want := append([]string(nil), perOpCodes...)
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("OpenAPI OpResult codes %v, code has %v", got, want)
	}
	fields := schemas["LogFields"].(map[string]any)["properties"].(map[string]any)
	for f := schema.Field(0); f < schema.NumFields; f++ {
		if !strings.Contains(md, "`"+f.String()+"`") {
			t.Errorf("PROTOCOL.md does not document field %s", f)
		}
		if _, ok := fields[f.String()]; !ok {
			t.Errorf("OpenAPI LogFields lacks %s", f)
		}
	}
	if len(fields) != int(schema.NumFields) {
		t.Errorf("OpenAPI LogFields has %d fields, the code %d", len(fields), schema.NumFields)
	}
	for _, lim := range []struct{ row, value string }{
		{"ops per push", fmt.Sprint(schema.MaxOpsPerPush)},
		{"ops per push", fmt.Sprint(schema.DefaultPushBatch)},
		{"push body after decompression", fmt.Sprintf("%d MiB", schema.MaxBodyBytes>>20)},
		{"other request bodies", fmt.Sprintf("%d KiB", schema.MaxSmallBodyBytes>>10)},
		{"note", fmt.Sprintf("%d characters", schema.MaxNoteRunes)},
		{"HLC ahead of server time", fmt.Sprintf("%d minutes", int(schema.MaxClockAhead.Minutes()))},
		{"clock offset treated as zero", fmt.Sprintf("%d seconds", int(schema.ClockNoise.Seconds()))},
		{"pull page", fmt.Sprintf("1–%d (default %d)", schema.MaxPullLimit, schema.DefaultPullLimit)},
	} {
		re := regexp.MustCompile(`(?m)^\| ` + regexp.QuoteMeta(lim.row) + ` \|.*` + regexp.QuoteMeta(lim.value))
		if !re.MatchString(md) {
			t.Errorf("PROTOCOL.md limits: %q does not say %q", lim.row, lim.value)
		}
	}
}
