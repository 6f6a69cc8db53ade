package keys_test

import (
	"fmt"

	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
)

// A number that would not read back as written is refused, naming the
// field; ReadableMeta is what verify does with one stored before the rule.
func ExampleParseMeta() {
	_, err := keys.ParseMeta(`{"team": "core", "limits": {"max": 1e999}}`)
	fmt.Println(keyhold.ErrorMessage(err))
	_, err = keys.ParseMeta(`{"account": 9007199254740993}`)
	fmt.Println(keyhold.ErrorMessage(err))
	readable, changed := keys.ReadableMeta([]byte(`{"limits":{"max":1e999},"team":"core"}`))
	fmt.Println(string(readable), changed)
	// Output:
	// Metadata field "limits.max" holds 1e999, which is out of range for a number. Write it as a string, like "1e999", to keep it exactly.
	// Metadata field "account" holds 9007199254740993, which is an integer too large to read back exactly (the limit is 9007199254740992). Write it as a string, like "9007199254740993", to keep it exactly.
	// {"limits":{"max":"1e999"},"team":"core"} true
}
