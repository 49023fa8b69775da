package bunstore

import (
	"encoding/json"
	"maps"
	"testing"
)

// jsonTraceContext is what encoding/json reads from s, as
// unmarshalTraceContext did before it read the usual trace context by
// hand.
func jsonTraceContext(s string) map[string]string {
	var tc map[string]string
	if s == "" || json.Unmarshal([]byte(s), &tc) != nil || len(tc) == 0 {
		return nil
	}
	return tc
}

func TestTraceContextMarshalAsEncodingJSON(t *testing.T) {
	for _, tc := range []map[string]string{
		nil,
		{},
		{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "tracestate": "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"},
		{"b": "2", "a": "1", "c": ""},
		{"k": `quo"te`},
		{"k": `back\slash`},
		{"k": "<html>&"},
		{"k": "tab\there"},
		{"k": "naïve"},
		{"k": "\xff"},
		{"a": "1", "b": "2", "c": "3", "d": "4", "e": "5", "f": "6", "g": "7", "h": "8", "i": "9"},
	} {
		want := ""
		if len(tc) > 0 {
			b, err := json.Marshal(tc)
			if err != nil {
				t.Fatal(err)
			}
			want = string(b)
		}
		got := marshalTraceContext(tc)
		if got != want {
			t.Errorf("marshalTraceContext(%q) = %s, encoding/json writes %s", tc, got, want)
		}
		if back := unmarshalTraceContext(got); !maps.Equal(back, jsonTraceContext(got)) || (len(tc) > 0 && !maps.Equal(back, jsonTraceContext(want))) {
			t.Errorf("unmarshalTraceContext(%s) = %q, want %q", got, back, jsonTraceContext(got))
		}
	}
}

func TestTraceContextUnmarshalAsEncodingJSON(t *testing.T) {
	for _, s := range traceContextSeeds {
		if got, want := unmarshalTraceContext(s), jsonTraceContext(s); !maps.Equal(got, want) || (got == nil) != (want == nil) {
			t.Errorf("unmarshalTraceContext(%q) = %q, encoding/json reads %q", s, got, want)
		}
	}
}

// traceContextSeeds are stored trace contexts, good and bad.
var traceContextSeeds = []string{
	"",
	"trace",
	"{}",
	" { } ",
	"null",
	"[]",
	`{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}`,
	`{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "tracestate": "a=b"}`,
	"{\n\t\"a\" : \"1\" ,\r\n\"b\":\"2\"}\n",
	`{"a":"1","a":"2"}`,
	`{"a":"1",}`,
	`{"a":"1"`,
	`{"a":"1"} x`,
	`{"a":1}`,
	`{"a":null}`,
	`{"a":"es\"caped"}`,
	`{"a":"\u00e9"}`,
	`{"a":"naïve"}`,
	`{"a":"` + "\xff" + `"}`,
	`{"a":"` + "\x01" + `"}`,
	`{a:"1"}`,
	`{"":""}`,
}

func FuzzTraceContextUnmarshal(f *testing.F) {
	for _, s := range traceContextSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := unmarshalTraceContext(s), jsonTraceContext(s); !maps.Equal(got, want) || (got == nil) != (want == nil) {
			t.Errorf("unmarshalTraceContext(%q) = %q, encoding/json reads %q", s, got, want)
		}
	})
}
