package verify

import "strings"

// The fast path of the /v1/verify body. encoding/json costs some eight
// allocations and a reflection walk per request for a body that gateways
// send in one shape: an object of key, cost, scopes and ip. decodeFast
// reads that shape only, and declines everything else, which then goes to
// encoding/json (decodeJSON) exactly as before. It must never accept a
// body that encoding/json reads differently (FuzzDecodeFast checks it), so
// it declines whatever needs a rule of encoding/json to read:
//   - member names other than exactly key, cost, scopes and ip (encoding/json
//     matches names without regard to case, even "K" for "k" by Unicode
//     folding, and ignores unknown members);
//   - a name given twice (encoding/json keeps the last);
//   - null, nesting, and values of another type;
//   - strings with escapes, control characters or any byte past ASCII
//     (encoding/json replaces invalid UTF-8);
//   - numbers with a fraction or an exponent, or past 18 digits;
//   - more than MaxReqScopes scopes, and anything after the object.
//
// It allocates once, for the strings the Request keeps (the key, the
// scopes, and the ip until it is parsed), and builds the scope list in the
// caller's buffer.

// span is where a string's content lies in the body.
type span struct{ start, end int }

// decodeFast reads body into f when it has the gateways' shape, building
// f.scopes in *scopes (nil: in a new slice); false when it declines.
func decodeFast(body []byte, scopes *[]string, f *fields) bool {
	var (
		key, ip span
		sc      [MaxReqScopes]span
		nsc     int
		seen    uint8 // one bit per member
		cost    int64
	)
	const (
		seenKey = 1 << iota
		seenCost
		seenScopes
		seenIP
	)
	i := skipSpace(body, 0)
	if i == len(body) || body[i] != '{' {
		return false
	}
	i = skipSpace(body, i+1)
	if i < len(body) && body[i] == '}' {
		i++
	} else {
		for {
			name, j, ok := readString(body, i)
			if !ok {
				return false
			}
			i = skipSpace(body, j)
			if i == len(body) || body[i] != ':' {
				return false
			}
			i = skipSpace(body, i+1)
			var bit uint8
			switch string(body[name.start:name.end]) {
			case "key":
				bit = seenKey
				key, i, ok = readString(body, i)
			case "ip":
				bit = seenIP
				ip, i, ok = readString(body, i)
			case "cost":
				bit = seenCost
				cost, i, ok = readInt(body, i)
			case "scopes":
				bit = seenScopes
				nsc, i, ok = readStrings(body, i, &sc)
			default:
				return false
			}
			if !ok || seen&bit != 0 {
				return false
			}
			seen |= bit
			i = skipSpace(body, i)
			if i == len(body) {
				return false
			}
			if body[i] == '}' {
				i++
				break
			}
			if body[i] != ',' {
				return false
			}
			i = skipSpace(body, i+1)
		}
	}
	if skipSpace(body, i) != len(body) {
		return false
	}

	// One allocation for every string the Request keeps.
	n := key.end - key.start + ip.end - ip.start
	for _, s := range sc[:nsc] {
		n += s.end - s.start
	}
	var b strings.Builder
	b.Grow(n)
	b.Write(body[key.start:key.end])
	b.Write(body[ip.start:ip.end])
	for _, s := range sc[:nsc] {
		b.Write(body[s.start:s.end])
	}
	all := b.String()
	*f = fields{cost: cost, hasKey: seen&seenKey != 0, hasCost: seen&seenCost != 0}
	at := key.end - key.start
	f.key = all[:at]
	f.ip = all[at : at+ip.end-ip.start]
	at += ip.end - ip.start
	if seen&seenScopes != 0 {
		var list []string
		if scopes != nil {
			list = (*scopes)[:0]
		}
		if cap(list) == 0 {
			// Never nil, as encoding/json's [] is not: the buffer for
			// the next calls, sized once for the most a request may ask.
			list = make([]string, 0, MaxReqScopes)
		}
		for _, s := range sc[:nsc] {
			list = append(list, all[at:at+s.end-s.start])
			at += s.end - s.start
		}
		if scopes != nil {
			*scopes = list
		}
		f.scopes = list
	}
	return true
}

// skipSpace returns the index of the first byte from i on that is not
// JSON whitespace (space, tab, newline, carriage return).
func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// readString reads a string at b[i]: printable ASCII (and DEL) without a
// backslash, which encoding/json reads as the bytes themselves. It returns
// the content's span and the index past the closing quote.
func readString(b []byte, i int) (span, int, bool) {
	if i == len(b) || b[i] != '"' {
		return span{}, i, false
	}
	start := i + 1
	for j := start; j < len(b); j++ {
		c := b[j]
		if c == '"' {
			return span{start, j}, j + 1, true
		}
		if c < 0x20 || c >= 0x80 || c == '\\' {
			return span{}, j, false
		}
	}
	return span{}, len(b), false
}

// readInt reads an integer literal at b[i] as JSON writes it (-?(0|[1-9][0-9]*)),
// of at most 18 digits so that it fits an int64, not followed by a
// fraction or an exponent (whatever follows is the caller's to check,
// and none of '.', 'e', 'E' and digits is allowed there).
func readInt(b []byte, i int) (int64, int, bool) {
	neg := i < len(b) && b[i] == '-'
	if neg {
		i++
	}
	start := i
	var n int64
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		n = n*10 + int64(b[i]-'0')
		i++
	}
	digits := i - start
	if digits == 0 || digits > 18 || (digits > 1 && b[start] == '0') {
		return 0, i, false
	}
	if i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E') {
		return 0, i, false
	}
	if neg {
		n = -n
	}
	return n, i, true
}

// readStrings reads an array of readString's strings at b[i] into sc,
// declining past len(sc). It returns their count and the index past ']'.
func readStrings(b []byte, i int, sc *[MaxReqScopes]span) (int, int, bool) {
	if i == len(b) || b[i] != '[' {
		return 0, i, false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return 0, i + 1, true
	}
	n := 0
	for {
		if n == len(sc) {
			return 0, i, false
		}
		s, j, ok := readString(b, i)
		if !ok {
			return 0, j, false
		}
		sc[n] = s
		n++
		i = skipSpace(b, j)
		if i == len(b) {
			return 0, i, false
		}
		if b[i] == ']' {
			return n, i + 1, true
		}
		if b[i] != ',' {
			return 0, i, false
		}
		i = skipSpace(b, i+1)
	}
}
