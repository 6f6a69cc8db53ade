package keyhold_test

import (
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestDependenciesPointInward fails when a business package imports the
// web framework, the ORM, the store or the server (STYLE.md, "Who imports
// whom"), or when the server reaches for the store or gorm. audit and
// config are leaves: audit is the vocabulary of the audit log that the
// services, the store and the server share, and config turns the
// environment into values; neither may import one of ours. Only the
// commands read config: the packages they wire get plain values (a URL,
// a duration), so each can be built in a test without an environment.
// team owns the roles that auth, keys and billing ask, so it imports none
// of them.
func TestDependenciesPointInward(t *testing.T) {
	const mod = "github.com/keyhold/keyhold/"
	forbidden := map[string][]string{
		"internal/keyhold":     {"github.com/labstack/echo", "gorm.io/", mod + "internal/"},
		"internal/audit":       {"github.com/labstack/echo", "gorm.io/", mod + "internal/"},
		"internal/idempotency": {"github.com/labstack/echo", "gorm.io/", mod + "internal/"},
		"internal/config":      {"github.com/labstack/echo", "gorm.io/", mod + "internal/"},
		"internal/quota":       {"github.com/labstack/echo", "gorm.io/", mod + "internal/"},
		"internal/plans":       {"github.com/labstack/echo", "gorm.io/", mod + "internal/store", mod + "internal/server", mod + "internal/config"},
		"internal/team":        {"github.com/labstack/echo", "gorm.io/", mod + "internal/store", mod + "internal/server", mod + "internal/auth", mod + "internal/keys", mod + "internal/billing", mod + "internal/config"},
		"internal/auth":        {"github.com/labstack/echo", "gorm.io/", mod + "internal/store", mod + "internal/server", mod + "internal/config"},
		"internal/rootkey":     {"github.com/labstack/echo", "gorm.io/", mod + "internal/store", mod + "internal/server", mod + "internal/verify", mod + "internal/config"},
		"internal/keys":        {"github.com/labstack/echo", "gorm.io/", mod + "internal/store", mod + "internal/server", mod + "internal/verify", mod + "internal/config"},
		"internal/verify":      {"github.com/labstack/echo", "gorm.io/", mod + "internal/store", mod + "internal/server", mod + "internal/config"},
		"internal/billing":     {"github.com/labstack/echo", "gorm.io/", mod + "internal/store", mod + "internal/server", mod + "internal/verify", mod + "internal/config"},
		"internal/overview":    {"github.com/labstack/echo", "gorm.io/", mod + "internal/store", mod + "internal/server", mod + "internal/verify", mod + "internal/config"},
		"internal/notices":     {"github.com/labstack/echo", "gorm.io/", mod + "internal/store", mod + "internal/server", mod + "internal/verify", mod + "internal/config"},
		"internal/events":      {"github.com/labstack/echo", "gorm.io/", mod + "internal/store", mod + "internal/server", mod + "internal/config"},
		"internal/tokens":      {"github.com/labstack/echo", "gorm.io/", mod + "internal/store", mod + "internal/server", mod + "internal/verify", mod + "internal/config"},
		"internal/api":         {"gorm.io/", mod + "internal/store", mod + "internal/server", mod + "internal/config"},
		"internal/store":       {"github.com/labstack/echo", mod + "internal/server", mod + "internal/config"},
		"internal/server":      {"gorm.io/", mod + "internal/store", mod + "internal/config"},
		"templates":            {"github.com/labstack/echo", "gorm.io/", mod + "internal/"},
	}
	// The vocabulary packages a leaf may still use: idempotency checks a
	// key with keyhold.CheckText, as every other text field is checked.
	except := map[string][]string{
		"internal/idempotency": {mod + "internal/keyhold"},
	}
	for pkg, bad := range forbidden {
		out, err := exec.Command("go", "list", "-deps", mod+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == mod+pkg || slices.Contains(except[pkg], dep) {
				continue
			}
			for _, b := range bad {
				if strings.HasPrefix(dep, b) {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
}

// TestServerUsesVerifyOnlyToVerify fails when a server file other than
// /v1/verify's handler, its metrics and the wiring imports the verifier:
// pages take quota windows from quota and live counts through overview.
func TestServerUsesVerifyOnlyToVerify(t *testing.T) {
	allowed := []string{"server.go", "verify.go", "tokens.go", "metrics.go", "lean.go"}
	files, err := filepath.Glob("../server/*.go")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no server files found")
	}
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "github.com/keyhold/keyhold/internal/verify" && !slices.Contains(allowed, filepath.Base(path)) {
				t.Errorf("%s imports internal/verify; pages take windows from internal/quota and live counts through internal/overview", path)
			}
		}
	}
}
