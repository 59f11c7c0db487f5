package merge

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/sync/hlc"
)

// stampJSON is one stamp in the stored form, with the fields it won.
type stampJSON struct {
	HLC    string `json:"h"`
	Device string `json:"d"`
	OpID   string `json:"o"`
	Base   string `json:"b,omitempty"`
	Fields []int  `json:"f,omitempty"`
}

func toJSON(s Stamp) stampJSON {
	j := stampJSON{HLC: s.HLC.String(), Device: s.Device, OpID: s.OpID}
	if s.Base != 0 {
		j.Base = s.Base.String()
	}
	return j
}

func fromJSON(j stampJSON) (Stamp, error) {
	h, err := hlc.Parse(j.HLC)
	if err != nil {
		return Stamp{}, err
	}
	s := Stamp{HLC: h, Device: j.Device, OpID: j.OpID}
	if j.Base != "" {
		if s.Base, err = hlc.Parse(j.Base); err != nil {
			return Stamp{}, err
		}
	}
	return s, nil
}

// EncodeStamps returns the stored form of a log's field stamps: each distinct stamp once,
// with the fields it won. A log made by one operation stores one stamp. It is on the
// push path, so it writes the JSON by hand (DecodeStamps reads it with encoding/json).
func EncodeStamps(stamps *[schema.NumFields]Stamp) string {
	var (
		distinct [schema.NumFields]Stamp
		fields   [schema.NumFields][]int
		n        int
	)
	for f, s := range stamps {
		if s.IsZero() {
			continue
		}
		i := 0
		for i < n && distinct[i] != s {
			i++
		}
		if i == n {
			distinct[n] = s
			n++
		}
		fields[i] = append(fields[i], f)
	}
	if n == 0 {
		return ""
	}
	b := make([]byte, 0, 128*n)
	b = append(b, '[')
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendStamp(b, distinct[i])
		b = append(b[:len(b)-1], `,"f":[`...)
		for j, f := range fields[i] {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(f), 10)
		}
		b = append(b, "]}"...)
	}
	return string(append(b, ']'))
}

// appendStamp appends a stamp as a JSON object.
func appendStamp(b []byte, s Stamp) []byte {
	b = append(b, `{"h":"`...)
	b = append(b, s.HLC.String()...)
	b = append(b, `","d":`...)
	b = appendString(b, s.Device)
	b = append(b, `,"o":`...)
	b = appendString(b, s.OpID)
	if s.Base != 0 {
		b = append(b, `,"b":"`...)
		b = append(b, s.Base.String()...)
		b = append(b, '"')
	}
	return append(b, '}')
}

// appendString appends s as a JSON string: directly when it is plain ASCII (UUIDs, device
// ids), through encoding/json otherwise.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// DecodeStamps reads what EncodeStamps wrote.
func DecodeStamps(s string, stamps *[schema.NumFields]Stamp) error {
	*stamps = [schema.NumFields]Stamp{}
	if s == "" {
		return nil
	}
	var list []stampJSON
	if err := json.Unmarshal([]byte(s), &list); err != nil {
		return fmt.Errorf("decode stamps: %w", err)
	}
	for _, j := range list {
		st, err := fromJSON(j)
		if err != nil {
			return fmt.Errorf("decode stamps: %w", err)
		}
		for _, f := range j.Fields {
			if f < 0 || f >= int(schema.NumFields) {
				return fmt.Errorf("decode stamps: field %d out of range", f)
			}
			stamps[f] = st
		}
	}
	return nil
}

// EncodeStamp returns the stored form of one stamp ("" for the zero stamp).
func EncodeStamp(s Stamp) string {
	if s.IsZero() {
		return ""
	}
	return string(appendStamp(make([]byte, 0, 128), s))
}

// DecodeStamp reads what EncodeStamp wrote.
func DecodeStamp(s string) (Stamp, error) {
	if s == "" {
		return Stamp{}, nil
	}
	var j stampJSON
	if err := json.Unmarshal([]byte(s), &j); err != nil {
		return Stamp{}, fmt.Errorf("decode stamp: %w", err)
	}
	return fromJSON(j)
}
