package keys_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/keyhold/keyhold/internal/keys"
)

func ExampleGenerate() {
	secret, err := keys.Generate()
	if err != nil {
		panic(err)
	}
	// Store secret.Hash() and secret.Display(); show secret.Reveal() once.
	fmt.Println(len(secret.Reveal()), strings.HasPrefix(secret.Reveal(), keys.Prefix))
	fmt.Println(secret)
	// Output:
	// 46 true
	// kh_live_…[redacted]
}

func ExampleParse() {
	secret, err := keys.Parse("kh_live_abcdefghijklmnopqrstuvwxyz0123450Qkiwo")
	if err != nil {
		panic(err)
	}
	fmt.Println(secret.Display())
	fmt.Printf("%x\n", secret.Hash())

	// One mistyped character fails the checksum; no lookup is needed.
	_, err = keys.Parse("kh_live_abcdefghijklmnopqrstuvwxyz0123450Qkiwp")
	fmt.Println(errors.Is(err, keys.ErrMalformed))
	// Output:
	// kh_live_…kiwo
	// d3b110007defcdc7463b5ae173974f4c75c46d388b6111f19efaea64ba3a91ca
	// true
}

func ExampleSecret_String() {
	secret, _ := keys.Parse("kh_live_abcdefghijklmnopqrstuvwxyz0123450Qkiwo")
	fmt.Printf("%v %s %q\n", secret, secret, secret)
	fmt.Println(secret.Reveal())
	// Output:
	// kh_live_…[redacted] kh_live_…[redacted] "kh_live_…[redacted]"
	// kh_live_abcdefghijklmnopqrstuvwxyz0123450Qkiwo
}

func ExampleRedactText() {
	fmt.Println(keys.RedactText("/keys/kh_live_abcdefghijklmnopqrstuvwxyz0123450Qkiwo/revoke"))
	// Output: /keys/kh_live_…[redacted]/revoke
}
