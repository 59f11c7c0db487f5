package engine

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/schema"
)

// FuzzPushDecode feeds arbitrary bytes to the push decoder as the server reads a body
// (strict JSON into schema.PushRequest) and through the per-op checks. Whatever the
// input: no panic, and every op the checks accept is well-formed — canonical ids, a valid
// HLC, fields only from the catalogue of client fields, values within the rules — and
// accepting it again gives the same answer.
func FuzzPushDecode(f *testing.F) {
	f.Add([]byte(`{"device_time":"2026-11-23T09:41:07+07:00","ops":[{"op_id":"01937f6e-0000-7000-8000-000000000001","type":"upsert","id":"01937f6d-0000-7000-8000-000000000001","hlc":"01a2064820c00001","fields":{"hamlet_id":12,"kind":"vneid_level2","occurred_at":"2026-11-23T09:30:00+07:00","citizen_ref":"5e1c000000000000000000000000000000000000000000000000000000000000","consent":true,"note":"Bà Sáu"}}]}`))
	f.Add([]byte(`{"device_time":"2026-11-23T09:41:07Z","ops":[{"op_id":"01937f6e-0000-7000-8000-000000000002","type":"delete","id":"01937f6d-0000-7000-8000-000000000001","hlc":"01a2064820c00002"}]}`))
	f.Add([]byte(`{"device_time":"x","ops":[{"op_id":"1","type":"upsert","id":"2","hlc":"zz","base":"01a2064820c00009","fields":{"note":null,"lat":1e400}}]}`))
	f.Add([]byte(`{"ops":[{"fields":{"status":"approved","attendees":-1,"outcome":"maybe","consent":false}}]}`))
	f.Add([]byte(`[]`))
	now := time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		var req schema.PushRequest
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if dec.Decode(&req) != nil {
			return
		}
		for _, op := range req.Ops {
			p := parseOp(op, now, 0, schema.MaxClockAhead)
			if p.err != nil {
				if p.err.Code == "" || p.err.Message == "" {
					t.Fatalf("rejection without code or message: %+v", p.err)
				}
				continue
			}
			if _, ok := canonicalUUID(p.opID); !ok || p.hlc == 0 || len(p.hash) != 32 {
				t.Fatalf("accepted a malformed op: %+v", p)
			}
			if p.typ == schema.OpUpsert {
				if p.mask == 0 {
					t.Fatal("accepted an upsert without fields")
				}
				if e := checkFields(&p.content, p.mask, now, 0, schema.MaxClockAhead); e != nil {
					t.Fatalf("accepted op fails its own checks: %v", e)
				}
				for _, fld := range p.mask.Fields() {
					if schema.RequiredFields.Has(fld) && !p.content.IsSet(fld) {
						t.Fatalf("accepted a null %s", fld)
					}
				}
			}
			if again := parseOp(op, now, 0, schema.MaxClockAhead); again.err != nil || !bytes.Equal(again.hash, p.hash) {
				t.Fatal("the same op parsed twice differs")
			}
		}
	})
}

// FuzzCursor: any string is either a cursor the server made (and prints back the same) or
// a CodeInvalid error; never a panic.
func FuzzCursor(f *testing.F) {
	f.Add(Cursor{Epoch: "a1b2c3d4e5f60708", Scope: "12-3", Pos: Pos{Tx: 7, Seq: 42}}.String())
	f.Add("")
	f.Add("djEuLi4x")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCursor(s)
		if err != nil {
			if schema.ErrorCode(err) != schema.CodeInvalid {
				t.Fatalf("error code %s", schema.ErrorCode(err))
			}
			return
		}
		if back, err := ParseCursor(c.String()); err != nil || back != c {
			t.Fatalf("round trip %+v → %+v %v", c, back, err)
		}
	})
}
