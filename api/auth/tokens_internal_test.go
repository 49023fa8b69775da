package auth

import (
	"fmt"
	"testing"
)

func manyTokens(t testing.TB, n int) *Tokens {
	list := make([]Token, n)
	for i := range list {
		list[i] = Token{Subject: fmt.Sprintf("s%d", i), Hash: HashToken(fmt.Sprintf("secret-%d", i))}
	}
	tokens, err := NewTokens(list)
	if err != nil {
		t.Fatal(err)
	}
	return tokens
}

// TestMatchComparesEveryHash checks that a lookup compares the presented
// digest with every configured one, whether it matches the first, the last
// or none, so that its duration does not tell which.
func TestMatchComparesEveryHash(t *testing.T) {
	for _, n := range []int{1, 2, 17, 300} {
		tokens := manyTokens(t, n)
		for _, tc := range []struct {
			name   string
			secret string
			want   int
		}{
			{"first", "secret-0", 0},
			{"middle", fmt.Sprintf("secret-%d", n/2), n / 2},
			{"last", fmt.Sprintf("secret-%d", n-1), n - 1},
			{"none", "no-such-secret", -1},
		} {
			t.Run(fmt.Sprintf("%d/%s", n, tc.name), func(t *testing.T) {
				index, compared := tokens.match(HashToken(tc.secret))
				if index != tc.want {
					t.Fatalf("index = %d, want %d", index, tc.want)
				}
				if compared != n {
					t.Fatalf("compared %d hashes, want all %d", compared, n)
				}
			})
		}
	}
}

// BenchmarkMatch shows that matching the first, the last or no token of
// many costs the same.
func BenchmarkMatch(b *testing.B) {
	const n = 100
	tokens := manyTokens(b, n)
	for _, bc := range []struct{ name, secret string }{
		{"first", "secret-0"},
		{"last", fmt.Sprintf("secret-%d", n-1)},
		{"none", "no-such-secret"},
	} {
		sum := HashToken(bc.secret)
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				tokens.match(sum)
			}
		})
	}
}
