package events

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// repoRoot is the directory with package.json, whose node_modules holds
// the npm package standardwebhooks (a devDependency; .ci/run runs npm ci).
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "package.json")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no package.json above the test's directory")
		}
		dir = parent
	}
}

// runNode runs script with node in the repository root, so that
// require("standardwebhooks") finds the reference library, and returns
// its standard output. A missing node fails the test: the reference check
// is the point.
func runNode(t *testing.T, script string, env ...string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is needed to check against the reference library standardwebhooks: %v", err)
	}
	cmd := exec.Command(node, "-e", script)
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("node: %v\n%s", err, stderr)
	}
	return string(out)
}

// TestReferenceVerifiesOurSignature signs with Sign and lets the
// reference library's Webhook.verify check it, as a receiver would.
func TestReferenceVerifiesOurSignature(t *testing.T) {
	secret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	key, err := ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"type":"key.created","timestamp":"2026-12-01T10:00:00Z","data":{"key_id":"key_1","name":"caf\u00e9 ☕"}}`
	now := time.Now()
	sig := Sign(key, "evt_ref_1", now, []byte(body))
	script := `
const { Webhook } = require("standardwebhooks");
const wh = new Webhook(process.env.SECRET);
const headers = {"webhook-id": process.env.ID, "webhook-timestamp": process.env.TS, "webhook-signature": process.env.SIG};
const out = wh.verify(process.env.BODY, headers);
let tampered = "accepted";
try { wh.verify(process.env.BODY + " ", headers); } catch (e) { tampered = "refused"; }
process.stdout.write(JSON.stringify({data: out.data, tampered}));
`
	out := runNode(t, script, "SECRET="+secret, "ID=evt_ref_1", "TS="+strconv.FormatInt(now.Unix(), 10), "SIG="+sig, "BODY="+body)
	var got struct {
		Data     map[string]string `json:"data"`
		Tampered string            `json:"tampered"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("node output %q: %v", out, err)
	}
	if got.Data["key_id"] != "key_1" || got.Data["name"] != "café ☕" {
		t.Fatalf("reference verified data = %v", got.Data)
	}
	if got.Tampered != "refused" {
		t.Fatalf("reference accepted a tampered body: the check does not check")
	}
}

// TestWeVerifyReferenceSignature lets the reference library sign and
// checks that Verify accepts it (and that it is the signature Sign makes).
func TestWeVerifyReferenceSignature(t *testing.T) {
	secret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	key, err := ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"type":"quota.threshold","data":{"percent":80}}`
	script := `
const { Webhook } = require("standardwebhooks");
const wh = new Webhook(process.env.SECRET);
const ts = new Date();
process.stdout.write(JSON.stringify({ts: Math.floor(ts.getTime() / 1000), sig: wh.sign("evt_ref_2", ts, process.env.BODY)}));
`
	out := runNode(t, script, "SECRET="+secret, "BODY="+body)
	var got struct {
		TS  int64  `json:"ts"`
		Sig string `json:"sig"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("node output %q: %v", out, err)
	}
	if !strings.HasPrefix(got.Sig, "v1,") {
		t.Fatalf("reference signature %q", got.Sig)
	}
	h := headers("evt_ref_2", got.TS, got.Sig)
	if err := Verify(key, h, []byte(body), time.Now(), 0); err != nil {
		t.Fatalf("Verify of the reference signature: %v", err)
	}
	if err := Verify(key, h, []byte(body+" "), time.Now(), 0); err == nil {
		t.Fatal("Verify accepted the reference signature over another body")
	}
	if mine := Sign(key, "evt_ref_2", time.Unix(got.TS, 0), []byte(body)); mine != got.Sig {
		t.Fatalf("Sign = %q, reference = %q", mine, got.Sig)
	}
}
