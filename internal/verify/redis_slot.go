package verify

import "strings"

// clusterSlots is how many hash slots a Redis Cluster has.
const clusterSlots = 16384

// keySlot is the Redis Cluster hash slot of a key (CLUSTER KEYSLOT): the
// CRC16 (XMODEM) of its hash tag, the part between the first "{" and the
// next "}" when that is not empty, or of the whole key. go-redis has the
// same function, in an internal package.
func keySlot(key string) int {
	if s := strings.IndexByte(key, '{'); s >= 0 {
		if e := strings.IndexByte(key[s+1:], '}'); e > 0 {
			key = key[s+1 : s+1+e]
		}
	}
	return int(crc16(key) % clusterSlots)
}

// tagSlot is the slot of every Redis key tagged with id ("kh:{id}:…", an
// account's: rateKey), without making one: the verification's hot path
// asks it on every call in a cluster.
func tagSlot(id string) int {
	tag := id
	if e := strings.IndexByte(id, '}'); e >= 0 {
		if e == 0 {
			return keySlot("kh:{" + id + "}") // an empty tag: never, for keyhold's ids
		}
		tag = id[:e]
	}
	return int(crc16(tag) % clusterSlots)
}

// crc16 is CRC-16/XMODEM (polynomial 0x1021, no reflection, initial 0),
// the checksum Redis Cluster hashes keys with.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc = crc<<8 ^ crc16Table[byte(crc>>8)^s[i]]
	}
	return crc
}

var crc16Table = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()
