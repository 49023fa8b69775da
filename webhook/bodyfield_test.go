package webhook

import (
	"encoding/json"
	"testing"
)

// oracleString is what encoding/json makes of the top-level member key of
// body: ok is false when body is not valid JSON, and the value is "" when
// body is not an object or the member is absent or not a string.
func oracleString(body []byte, key string) (string, bool) {
	if !json.Valid(body) {
		return "", false
	}
	var obj map[string]any
	if err := json.Unmarshal(body, &obj); err != nil {
		return "", true
	}
	s, _ := obj[key].(string)
	return s, true
}

func TestTopLevelStrings(t *testing.T) {
	cases := []struct {
		name, body string
		id, typ    string
	}{
		{"both", `{"id":"evt_1","type":"t"}`, "evt_1", "t"},
		{"spaces", " \t\r\n{ \"id\" :\n\"evt_1\" , \"type\" : \"t\" } \n", "evt_1", "t"},
		{"empty object", `{}`, "", ""},
		{"absent", `{"object":"event"}`, "", ""},
		{"not a string", `{"id":42,"type":null}`, "", ""},
		{"nested only", `{"data":{"id":"x","type":"y"},"list":[{"id":"z"}]}`, "", ""},
		{"nested before", `{"data":{"id":"x","s":"}]\"{"},"id":"evt_2"}`, "evt_2", ""},
		{"last wins", `{"id":"a","id":"b"}`, "b", ""},
		{"last not a string", `{"id":"a","id":{}}`, "", ""},
		{"escaped value", `{"id":"a\"b\u00e9\n"}`, "a\"b\u00e9\n", ""},
		{"escaped key", `{"\u0069d":"a"}`, "a", ""},
		{"case matters", `{"ID":"a","Type":"b"}`, "", ""},
		{"unicode", `{"id":"évé"}`, "évé", ""},
		{"numbers and literals", `{"a":-1.5e3,"b":true,"c":false,"d":null,"id":"x"}`, "x", ""},
		{"array", `["id","x"]`, "", ""},
		{"string", `"id"`, "", ""},
		{"form", `token=x&id=y`, "", ""},
		{"empty", ``, "", ""},
		{"unterminated", `{"id":"x"`, "", ""},
		{"unterminated string", `{"id":"x`, "", ""},
		{"unterminated nested", `{"a":{"b":[1,2}`, "", ""},
		{"trailing garbage", `{"id":"x"} {}`, "", ""},
		{"missing colon", `{"id" "x"}`, "", ""},
		{"missing value", `{"id":}`, "", ""},
		{"control character", "{\"id\":\"a\x01\"}", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := make([]string, 2)
			topLevelStrings([]byte(c.body), []string{"id", "type"}, got)
			if got[0] != c.id || got[1] != c.typ {
				t.Errorf("topLevelStrings(%q) = %q, want [%q %q]", c.body, got, c.id, c.typ)
			}
			if want, ok := oracleString([]byte(c.body), "id"); ok && want != c.id {
				t.Errorf("encoding/json reads id %q, the case wants %q", want, c.id)
			}
		})
	}
}

// FuzzTopLevelStrings checks topLevelStrings against encoding/json on
// every valid JSON text.
func FuzzTopLevelStrings(f *testing.F) {
	for _, s := range []string{
		`{"id":"evt_1","type":"url_verification","challenge":"c"}`,
		`{"a":{"id":"x"},"id":"y","id":"z"}`,
		`{"\u0069d":"\ud83d\ude00"}`,
		`[1,{"id":"x"}]`,
		`{"id":"\xff"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got := make([]string, 2)
		topLevelStrings(body, []string{"id", "type"}, got)
		for i, key := range []string{"id", "type"} {
			if want, ok := oracleString(body, key); ok && got[i] != want {
				t.Fatalf("%s of %q = %q, encoding/json says %q", key, body, got[i], want)
			}
		}
	})
}

func TestTopLevelRaw(t *testing.T) {
	for _, tc := range []struct{ body, key, want string }{
		{`{"conversation":{"id":"c1","isGroup":true},"id":"7"}`, "conversation", `{"id":"c1","isGroup":true}`},
		{`{"conversation":"plain"}`, "conversation", `"plain"`},
		{`{"a":1,"conversation":[1,2] }`, "conversation", `[1,2]`},
		{`{"conversation":{"id":"x"},"conversation":{"id":"y"}}`, "conversation", `{"id":"y"}`},
		{`{"id":"7"}`, "conversation", ``},
		{`{"conversation":{"id":"x"}`, "conversation", ``},
		{`[{"conversation":1}]`, "conversation", ``},
		{`{"conversation":{"id":"x"}} trailing`, "conversation", ``},
	} {
		if got := string(topLevelRaw([]byte(tc.body), tc.key)); got != tc.want {
			t.Errorf("topLevelRaw(%s, %q) = %q, want %q", tc.body, tc.key, got, tc.want)
		}
	}
}
