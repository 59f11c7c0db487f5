package server

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"sort"
	"strings"

	"github.com/labstack/echo/v4"
)

// The OpenAPI document is kept as one fragment per area of the API (server/openapi/*.json,
// each with "paths" and "components"), merged when the server starts. A test holds the
// merged document and the router's routes together, so neither can drift.
//
//go:embed openapi/*.json
var openapiFiles embed.FS

// OpenAPI returns the merged OpenAPI 3 document.
func OpenAPI() (map[string]any, error) {
	doc := map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":       "cdtsync API",
			"version":     "1",
			"description": "Máy chủ đồng bộ cho Tổ công nghệ số cộng đồng / sync server for community digital technology teams. Errors are JSON {code, message}. See docs/PROTOCOL.md for the sync protocol.",
		},
	}
	paths := map[string]any{}
	comps := map[string]map[string]any{}
	entries, err := fs.ReadDir(openapiFiles, "openapi")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		b, err := openapiFiles.ReadFile("openapi/" + e.Name())
		if err != nil {
			return nil, err
		}
		var frag struct {
			Paths      map[string]map[string]any `json:"paths"`
			Components map[string]map[string]any `json:"components"`
		}
		if err := json.Unmarshal(b, &frag); err != nil {
			return nil, fmt.Errorf("openapi/%s: %w", e.Name(), err)
		}
		for p, ops := range frag.Paths {
			existing, _ := paths[p].(map[string]any)
			if existing == nil {
				existing = map[string]any{}
			}
			for m, op := range ops {
				if _, dup := existing[m]; dup {
					return nil, fmt.Errorf("openapi/%s: %s %s defined twice", e.Name(), m, p)
				}
				existing[m] = op
			}
			paths[p] = existing
		}
		for kind, items := range frag.Components {
			if comps[kind] == nil {
				comps[kind] = map[string]any{}
			}
			for name, v := range items {
				if _, dup := comps[kind][name]; dup {
					return nil, fmt.Errorf("openapi/%s: component %s/%s defined twice", e.Name(), kind, name)
				}
				comps[kind][name] = v
			}
		}
	}
	doc["paths"] = paths
	doc["components"] = comps
	return doc, nil
}

// OpenAPIOperations lists "METHOD /path" for every operation of the document, sorted,
// with Echo-style path parameters (":id").
func OpenAPIOperations(doc map[string]any) []string {
	var ops []string
	for p, v := range doc["paths"].(map[string]any) {
		for m := range v.(map[string]any) {
			if m == "parameters" {
				continue
			}
			ops = append(ops, strings.ToUpper(m)+" "+echoPath(p))
		}
	}
	sort.Strings(ops)
	return ops
}

// echoPath turns OpenAPI "{id}" parameters into Echo ":id".
func echoPath(p string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(p, '{')
		if i < 0 {
			b.WriteString(p)
			return b.String()
		}
		j := strings.IndexByte(p[i:], '}')
		b.WriteString(p[:i] + ":" + p[i+1:i+j])
		p = p[i+j+1:]
	}
}

func (s *Server) openapiHandler() echo.HandlerFunc {
	doc, err := OpenAPI()
	body, err2 := json.MarshalIndent(doc, "", "  ")
	return func(c echo.Context) error {
		if err != nil || err2 != nil {
			return fmt.Errorf("openapi: %v %v", err, err2)
		}
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, body)
	}
}
