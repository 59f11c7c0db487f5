package web

import (
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/cdtsync/cdtsync/schema"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// pathID reads the :id path parameter; a malformed id is not found, like a missing one.
func pathID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, schema.Errorf(schema.CodeNotFound, "Không tìm thấy / not found")
	}
	return id, nil
}

// queryID reads an optional positive id from the query; anything else is no filter.
func queryID(c echo.Context, name string) *int64 {
	id, err := strconv.ParseInt(c.QueryParam(name), 10, 64)
	if err != nil || id <= 0 {
		return nil
	}
	return &id
}

// exportFormat reads format: csv or xlsx.
func exportFormat(c echo.Context) (string, error) {
	switch f := c.QueryParam("format"); f {
	case "csv", "xlsx":
		return f, nil
	}
	return "", schema.Errorf(schema.CodeInvalid, "format phải là csv hoặc xlsx / format must be csv or xlsx")
}

const mimeXLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

// download starts a file answer: its type and its name, in ASCII and, for browsers that
// read RFC 6266 filename*, in Vietnamese.
func download(c echo.Context, contentType, name, nameVI string) {
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, contentType)
	h.Set(echo.HeaderContentDisposition, mime.FormatMediaType("attachment", map[string]string{"filename": name})+
		"; filename*=UTF-8''"+rfc5987(nameVI))
	h.Set("Cache-Control", "no-store")
	c.Response().WriteHeader(http.StatusOK)
}

// rfc5987 percent-encodes s, keeping only attr-char.
func rfc5987(s string) string {
	const keep = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$&+-.^_`|~"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if strings.IndexByte(keep, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte("0123456789ABCDEF"[c>>4])
		b.WriteByte("0123456789ABCDEF"[c&15])
	}
	return b.String()
}
