package server

import (
	"encoding/json"
	"strings"
	"testing"
)

// accessPrefixes are the paths of the access area, documented in openapi/10_access.json.
var accessPrefixes = []string{"/v1/auth/", "/v1/enroll", "/v1/me", "/v1/units", "/v1/teams", "/v1/users", "/v1/devices"}

func isAccessPath(p string) bool {
	for _, pre := range accessPrefixes {
		if strings.HasPrefix(p, pre) {
			return true
		}
	}
	return false
}

// TestOpenAPIAccess holds openapi/10_access.json and the router's access routes together:
// every access route is documented, every documented operation is routed, and every
// reference in the fragment resolves in the merged document.
func TestOpenAPIAccess(t *testing.T) {
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
		if isAccessPath(r.Path) && !documented[k] {
			t.Errorf("route %s is not in the OpenAPI document", k)
		}
	}
	raw, err := openapiFiles.ReadFile("openapi/10_access.json")
	if err != nil {
		t.Fatal(err)
	}
	var frag struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(raw, &frag); err != nil {
		t.Fatal(err)
	}
	for p, ops := range frag.Paths {
		for m := range ops {
			if k := strings.ToUpper(m) + " " + echoPath(p); !routed[k] {
				t.Errorf("documented %s is not routed", k)
			}
		}
	}
	comps, _ := doc["components"].(map[string]map[string]any)
	var refs []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if s, ok := e.(string); ok && k == "$ref" {
					refs = append(refs, s)
				}
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	var fragAny any
	json.Unmarshal(raw, &fragAny)
	walk(fragAny)
	for _, ref := range refs {
		parts := strings.Split(strings.TrimPrefix(ref, "#/components/"), "/")
		if len(parts) != 2 || comps[parts[0]][parts[1]] == nil {
			t.Errorf("unresolved $ref %s", ref)
		}
	}
}
