package server_test

import (
	"hash/crc32"
)

// keyChecksum is the 6-character base62 CRC32 of body, as keys computes it;
// written again here so the test does not trust the code under test.
func keyChecksum(body string) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	n := crc32.ChecksumIEEE([]byte(body))
	out := make([]byte, 6)
	for i := 5; i >= 0; i-- {
		out[i] = alphabet[n%62]
		n /= 62
	}
	return string(out)
}
