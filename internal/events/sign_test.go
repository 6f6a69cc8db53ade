package events

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The example of the Standard Webhooks reference libraries' README.
const (
	vectorSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorUnix   = 1614265330
	vectorBody   = `{"test": 2432232314}`
	vectorSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func vectorKey(t *testing.T) []byte {
	t.Helper()
	key, err := ParseSecret(vectorSecret)
	if err != nil {
		t.Fatalf("ParseSecret(vector): %v", err)
	}
	return key
}

func headers(id string, unix int64, sig string) http.Header {
	h := http.Header{}
	if id != "" {
		h.Set("webhook-id", id)
	}
	if unix != 0 {
		h.Set("webhook-timestamp", strconv.FormatInt(unix, 10))
	}
	if sig != "" {
		h.Set("webhook-signature", sig)
	}
	return h
}

func TestSignKnownVector(t *testing.T) {
	got := Sign(vectorKey(t), vectorID, time.Unix(vectorUnix, 0), []byte(vectorBody))
	if got != vectorSig {
		t.Fatalf("Sign = %q, want %q (the Standard Webhooks README example)", got, vectorSig)
	}
	// Sub-second parts of the timestamp are not signed: the header carries
	// whole seconds.
	if got := Sign(vectorKey(t), vectorID, time.Unix(vectorUnix, 999_000_000), []byte(vectorBody)); got != vectorSig {
		t.Fatalf("Sign with nanoseconds = %q, want %q", got, vectorSig)
	}
}

func TestVerify(t *testing.T) {
	key := vectorKey(t)
	now := time.Unix(vectorUnix, 0)
	other, err := ParseSecret("whsec_" + base64.StdEncoding.EncodeToString([]byte("another secret of 32 bytes......")))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		key       []byte
		h         http.Header
		body      string
		now       time.Time
		tolerance time.Duration
		want      error
	}{
		{"vector", key, headers(vectorID, vectorUnix, vectorSig), vectorBody, now, 0, nil},
		{"4 min 59 s later, default tolerance", key, headers(vectorID, vectorUnix, vectorSig), vectorBody, now.Add(4*time.Minute + 59*time.Second), 0, nil},
		{"4 min 59 s earlier (receiver clock behind)", key, headers(vectorID, vectorUnix, vectorSig), vectorBody, now.Add(-4*time.Minute - 59*time.Second), 0, nil},
		{"one of several signatures matches", key, headers(vectorID, vectorUnix, "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= v1a,whatever "+vectorSig+" v1,!!notbase64"), vectorBody, now, 0, nil},
		{"several signatures, none matches", key, headers(vectorID, vectorUnix, "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= v2,"+strings.TrimPrefix(vectorSig, "v1,")), vectorBody, now, 0, ErrSignature},
		{"tampered body", key, headers(vectorID, vectorUnix, vectorSig), `{"test": 2432232315}`, now, 0, ErrSignature},
		{"tampered id", key, headers(vectorID+"x", vectorUnix, vectorSig), vectorBody, now, 0, ErrSignature},
		{"another secret", other, headers(vectorID, vectorUnix, vectorSig), vectorBody, now, 0, ErrSignature},
		{"timestamp changed within tolerance", key, headers(vectorID, vectorUnix+1, vectorSig), vectorBody, now, 0, ErrSignature},
		{"old timestamp", key, headers(vectorID, vectorUnix, vectorSig), vectorBody, now.Add(5*time.Minute + time.Second), 0, ErrTimestamp},
		{"future timestamp", key, headers(vectorID, vectorUnix, vectorSig), vectorBody, now.Add(-5*time.Minute - time.Second), 0, ErrTimestamp},
		{"old for a short tolerance", key, headers(vectorID, vectorUnix, vectorSig), vectorBody, now.Add(31 * time.Second), 30 * time.Second, ErrTimestamp},
		{"very negative timestamp cannot overflow", key, headers(vectorID, -9223372036854775808, vectorSig), vectorBody, now, 0, ErrTimestamp},
		{"timestamp not a number", key, http.Header{"Webhook-Id": {vectorID}, "Webhook-Timestamp": {"soon"}, "Webhook-Signature": {vectorSig}}, vectorBody, now, 0, ErrSignature},
		{"missing id", key, headers("", vectorUnix, vectorSig), vectorBody, now, 0, ErrSignature},
		{"missing timestamp", key, headers(vectorID, 0, vectorSig), vectorBody, now, 0, ErrSignature},
		{"missing signature", key, headers(vectorID, vectorUnix, ""), vectorBody, now, 0, ErrSignature},
		{"no header at all", key, http.Header{}, vectorBody, now, 0, ErrSignature},
		{"signature without version", key, headers(vectorID, vectorUnix, strings.TrimPrefix(vectorSig, "v1,")), vectorBody, now, 0, ErrSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Verify(c.key, c.h, []byte(c.body), c.now, c.tolerance)
			if c.want == nil {
				if err != nil {
					t.Fatalf("Verify = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("Verify = %v, want %v", err, c.want)
			}
		})
	}
}

func TestNewSecret(t *testing.T) {
	a, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatalf("two new secrets are equal: %q", a)
	}
	if !strings.HasPrefix(a, "whsec_") {
		t.Fatalf("secret %q does not start with whsec_", a)
	}
	key, err := ParseSecret(a)
	if err != nil {
		t.Fatalf("ParseSecret(NewSecret()): %v", err)
	}
	if len(key) != 32 {
		t.Fatalf("key is %d bytes, want 32", len(key))
	}
	// A signature made with the parsed key verifies: NewSecret and
	// ParseSecret agree on the encoding.
	now := time.Now()
	sig := Sign(key, "evt_1", now, []byte("{}"))
	if err := Verify(key, headers("evt_1", now.Unix(), sig), []byte("{}"), now, 0); err != nil {
		t.Fatalf("Verify of own signature: %v", err)
	}
}

func TestParseSecretRefusesMalformed(t *testing.T) {
	for _, s := range []string{
		"",
		"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",      // no prefix
		"whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", // another prefix
		"whsec_",                                // empty key
		"whsec_not base64!!",
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", // truncated
	} {
		key, err := ParseSecret(s)
		if err == nil {
			t.Errorf("ParseSecret(%q) = %x, want an error", s, key)
			continue
		}
		if len(s) > len("whsec_")+4 && strings.Contains(err.Error(), strings.TrimPrefix(s, "whsec_")) {
			t.Errorf("ParseSecret error %q repeats the secret", err)
		}
	}
}
