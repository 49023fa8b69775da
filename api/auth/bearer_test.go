package auth_test

import (
	"strings"
	"testing"

	"github.com/heraldhq/herald/api/auth"
)

func TestBearer(t *testing.T) {
	long := strings.Repeat("a", auth.MaxTokenLength)
	for _, tc := range []struct {
		name    string
		headers []string
		want    string
		err     error
	}{
		{"bearer", []string{"Bearer abc.def-ghi_jkl"}, "abc.def-ghi_jkl", nil},
		{"lowercase scheme", []string{"bearer abc"}, "abc", nil},
		{"uppercase scheme", []string{"BEARER abc"}, "abc", nil},
		{"several spaces", []string{"Bearer   abc"}, "abc", nil},
		{"padding", []string{"Bearer YWJj+/~=="}, "YWJj+/~==", nil},
		{"longest", []string{"Bearer " + long}, long, nil},
		{"no header", nil, "", auth.ErrNoCredentials},
		{"basic", []string{"Basic dXNlcjpwYXNz"}, "", auth.ErrNoCredentials},
		{"scheme only", []string{"Bearer"}, "", auth.ErrInvalidToken},
		{"empty token", []string{"Bearer "}, "", auth.ErrInvalidToken},
		{"scheme glued to token", []string{"Bearerabc"}, "", auth.ErrNoCredentials},
		{"two tokens", []string{"Bearer abc def"}, "", auth.ErrInvalidToken},
		{"two headers", []string{"Bearer abc", "Bearer def"}, "", auth.ErrInvalidToken},
		{"too long", []string{"Bearer " + long + "a"}, "", auth.ErrInvalidToken},
		{"padding inside", []string{"Bearer ab=c"}, "", auth.ErrInvalidToken},
		{"only padding", []string{"Bearer =="}, "", auth.ErrInvalidToken},
		{"comma", []string{"Bearer abc,def"}, "", auth.ErrInvalidToken},
		{"control character", []string{"Bearer abc\x01"}, "", auth.ErrInvalidToken},
		{"non-ASCII", []string{"Bearer abcé"}, "", auth.ErrInvalidToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := auth.Bearer(request(tc.headers...))
			if tc.err != nil {
				checkRefusal(t, err, tc.err, "", "abc", long)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("Bearer = %q, want %q", got, tc.want)
			}
		})
	}
}
