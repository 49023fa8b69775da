package keyring_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"strings"

	"github.com/heraldhq/herald/keyring"
)

// Seal a bot token for a workspace row, open it, then rotate to a new key.
func Example() {
	// In a server, keys come from configuration with keyring.ParseKey.
	k1, err := keyring.GenerateKey("k1")
	if err != nil {
		log.Fatal(err)
	}
	ring, err := keyring.New(k1)
	if err != nil {
		log.Fatal(err)
	}
	workspace := []byte("workspace:T0123")
	sealed, err := ring.Seal([]byte("xoxb-1234-5678"), workspace)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("stored:", strings.HasPrefix(string(sealed), "hk1:k1:"))

	// Moved to another workspace's row, the value no longer opens.
	_, err = ring.Open(sealed, []byte("workspace:T9999"))
	fmt.Println("other row:", errors.Is(err, keyring.ErrCorrupt))

	// Rotate: the new key goes first; the old one stays until every value
	// has been resealed.
	k2, err := keyring.GenerateKey("k2")
	if err != nil {
		log.Fatal(err)
	}
	ring, err = keyring.New(k2, k1)
	if err != nil {
		log.Fatal(err)
	}
	sealed, changed, err := ring.Reseal(sealed, workspace)
	if err != nil {
		log.Fatal(err)
	}
	id, _ := ring.KeyID(sealed)
	fmt.Println("resealed:", changed, "under", id)

	token, err := ring.Open(sealed, workspace)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("token:", string(token))
	fmt.Println("ring:", ring)
	// Output:
	// stored: true
	// other row: true
	// resealed: true under k2
	// token: xoxb-1234-5678
	// ring: keyring[k2 k1]
}

func ExampleSecret() {
	token := keyring.Secret("xoxb-1234-5678")
	j, _ := json.Marshal(struct{ Workspace, Token any }{"T0123", token})
	fmt.Println(string(j))
	fmt.Println(fmt.Errorf("post with token %v: %w", token, errors.New("rate limited")))
	fmt.Println(token.Reveal())
	// Output:
	// {"Workspace":"T0123","Token":"[redacted]"}
	// post with token [redacted]: rate limited
	// xoxb-1234-5678
}

func ExampleKey() {
	k, err := keyring.ParseKey("k1", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlBQkNERUY=")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%v %+v %#v\n", k, k, k)
	_, err = keyring.ParseKey("k2", "c2hvcnQ=")
	fmt.Println(err)
	// Output:
	// k1 k1 keyring.Key{ID:"k1", Secret:[redacted]}
	// keyring: key "k2": secret: must decode to 32 bytes, got 5
}
