package auth

import (
	_ "embed"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/keyhold/keyhold/internal/keyhold"
)

// Password length bounds, in characters (Unicode code points, as NIST SP
// 800-63B counts them). The upper bound keeps a single request from buying
// minutes of hashing.
const (
	MinPasswordLen = 10
	MaxPasswordLen = 1024
)

// MaxEmailLen is the longest email address accepted anywhere, in bytes: the
// most RFC 5321 lets a mailbox path carry.
const MaxEmailLen = 254

//go:embed common_passwords.txt
var commonPasswordsFile string

// commonPasswords is the set of common_passwords.txt, in lower case, built
// on first use: commands that never check a password do not pay for it.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	m := make(map[string]struct{}, 20_000)
	for line := range strings.Lines(commonPasswordsFile) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m[line] = struct{}{}
	}
	return m
})

// serviceWord is the name of the service, the first guess of anyone
// attacking a Keyhold account.
const serviceWord = "keyhold"

// CheckPassword applies the password rules of NIST SP 800-63B §5.1.1.2 to a
// new password for the account with email (lower-cased; empty when there
// is none yet): 10 to 1024 characters, not on the list of common passwords,
// not made of the email address, its name part or the service's name
// around digits and punctuation, and not one or two characters repeated.
// It returns an EINVALID error whose message says which rule failed.
func CheckPassword(password, email string) error {
	n := utf8.RuneCountInString(password)
	switch {
	case n < MinPasswordLen:
		return keyhold.Errorf(keyhold.EINVALID, "Use a password of at least %d characters.", MinPasswordLen)
	case n > MaxPasswordLen:
		return keyhold.Errorf(keyhold.EINVALID, "Use a password of at most %d characters.", MaxPasswordLen)
	}
	lower := strings.ToLower(password)
	if distinctRunes(lower, 3) < 3 {
		return keyhold.Errorf(keyhold.EINVALID, "This password repeats one or two characters, which attackers guess first. Choose another.")
	}
	if _, ok := commonPasswords()[lower]; ok {
		return keyhold.Errorf(keyhold.EINVALID, "This password is on a list of common passwords that attackers try first. Choose another: a few unrelated words make a strong one.")
	}
	switch madeOf(lower, emailWords(email)) {
	case wordEmail:
		return keyhold.Errorf(keyhold.EINVALID, "This password is made of your email address, which attackers try first. Choose another.")
	case wordService:
		return keyhold.Errorf(keyhold.EINVALID, "This password is made of the word “Keyhold”, which attackers try first. Choose another.")
	}
	return nil
}

// distinctRunes counts the different characters of s, stopping at limit.
func distinctRunes(s string, limit int) int {
	var seen []rune
	for _, r := range s {
		found := false
		for _, x := range seen {
			if x == r {
				found = true
				break
			}
		}
		if !found {
			seen = append(seen, r)
			if len(seen) >= limit {
				break
			}
		}
	}
	return len(seen)
}

// emailWords are the words of an email a password must not be made of: the
// address, its local part and the local part's pieces of three letters or
// more ("ada.lovelace" → "ada", "lovelace"), longest first.
func emailWords(email string) []string {
	if email == "" {
		return nil
	}
	words := []string{email}
	local, _, ok := strings.Cut(email, "@")
	if !ok || local == "" {
		return words
	}
	words = append(words, local)
	pieces := strings.FieldsFunc(local, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	if len(pieces) > 1 {
		for _, p := range pieces {
			if utf8.RuneCountInString(p) >= 3 {
				words = append(words, p)
			}
		}
	}
	return words
}

type madeOfWhat int

const (
	wordNone madeOfWhat = iota
	wordEmail
	wordService
)

// madeOf reports whether lower consists of the email's words and the
// service's name with nothing around them but digits, punctuation,
// symbols and spaces ("ada2024!", "Keyhold-keyhold", "ada@example.com1"),
// and which kind of word it is made of.
func madeOf(lower string, emailWords []string) madeOfWhat {
	rest, fromEmail := lower, false
	for _, w := range emailWords {
		if strings.Contains(rest, w) {
			rest, fromEmail = strings.ReplaceAll(rest, w, " "), true
		}
	}
	fromService := strings.Contains(rest, serviceWord)
	rest = strings.ReplaceAll(rest, serviceWord, " ")
	if !fromEmail && !fromService {
		return wordNone
	}
	if strings.IndexFunc(rest, unicode.IsLetter) >= 0 {
		return wordNone
	}
	if fromEmail {
		return wordEmail
	}
	return wordService
}
