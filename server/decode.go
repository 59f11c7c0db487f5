package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/cdtsync/cdtsync/schema"
)

// readBody reads a request body, gunzipping it if Content-Encoding says gzip, and refuses
// with CodeTooLarge a body over max bytes (counted after decompression, so a small gzip
// bomb is refused too).
func readBody(c echo.Context, max int64) ([]byte, error) {
	r := c.Request().Body
	if r == nil {
		return nil, nil
	}
	var src io.Reader = r
	switch enc := strings.ToLower(strings.TrimSpace(c.Request().Header.Get(echo.HeaderContentEncoding))); enc {
	case "", "identity":
	case "gzip":
		gz, err := gzip.NewReader(io.LimitReader(r, max+1))
		if err != nil {
			return nil, schema.Errorf(schema.CodeInvalid, "Nội dung gzip không hợp lệ / bad gzip body: %v", err)
		}
		defer gz.Close()
		src = gz
		if m, ok := r.(interface{ decoded(io.Reader) io.Reader }); ok {
			src = m.decoded(src) // a push admitted with an estimated share (server/ops.go)
		}
	default:
		return nil, schema.Errorf(schema.CodeInvalid, "Content-Encoding %q không được hỗ trợ (chỉ gzip) / unsupported Content-Encoding %q (gzip only)", enc, enc)
	}
	b, err := io.ReadAll(io.LimitReader(src, max+1))
	if err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return nil, tooLarge(max)
		}
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return nil, err // the push ran out of time waiting for memory: admitPush answers 503
		}
		return nil, schema.Errorf(schema.CodeInvalid, "Không đọc được nội dung yêu cầu / cannot read request body: %v", err)
	}
	if int64(len(b)) > max {
		return nil, tooLarge(max)
	}
	return b, nil
}

func tooLarge(max int64) error {
	return schema.Errorf(schema.CodeTooLarge, "Nội dung yêu cầu vượt quá %d byte / request body over the limit of %d bytes", max, max)
}

// decodeJSON reads a JSON body into v strictly: unknown fields and trailing data are
// errors, so a client never silently sends a field the server ignores.
func decodeJSON(c echo.Context, max int64, v any) error {
	b, err := readBody(c, max)
	if err != nil {
		return err
	}
	return unmarshalStrict(b, v)
}

// unmarshalStrict decodes one JSON value with unknown fields refused.
func unmarshalStrict(b []byte, v any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return schema.Errorf(schema.CodeInvalid, "Thiếu nội dung JSON / empty request body, JSON expected")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return schema.Errorf(schema.CodeInvalid, "JSON không hợp lệ / invalid JSON: %s", jsonErrorText(err))
	}
	// Only white space may follow the value (dec.More misses a stray '}' or ']').
	if len(bytes.TrimSpace(b[dec.InputOffset():])) > 0 {
		return schema.Errorf(schema.CodeInvalid, "JSON không hợp lệ / invalid JSON: trailing data after the object")
	}
	return nil
}

func jsonErrorText(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q must be %s", te.Field, te.Type)
	}
	return err.Error()
}
