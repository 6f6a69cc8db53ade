package keyhold_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependenciesPointInward fails when a business package imports the
// web framework, the ORM, the store or the server (STYLE.md, "Who imports
// whom"), or when the server reaches for the store or gorm.
func TestDependenciesPointInward(t *testing.T) {
	const mod = "github.com/keyhold/keyhold/"
	forbidden := map[string][]string{
		"internal/keyhold": {"github.com/labstack/echo", "gorm.io/", mod + "internal/"},
		"internal/plans":   {"github.com/labstack/echo", "gorm.io/", mod + "internal/store", mod + "internal/server"},
		"internal/auth":    {"github.com/labstack/echo", "gorm.io/", mod + "internal/store", mod + "internal/server"},
		"internal/keys":    {"github.com/labstack/echo", "gorm.io/", mod + "internal/store", mod + "internal/server", mod + "internal/verify"},
		"internal/verify":  {"github.com/labstack/echo", "gorm.io/", mod + "internal/store", mod + "internal/server"},
		"internal/billing": {"github.com/labstack/echo", "gorm.io/", mod + "internal/store", mod + "internal/server", mod + "internal/verify"},
		"internal/server":  {"gorm.io/", mod + "internal/store"},
		"templates":        {"github.com/labstack/echo", "gorm.io/", mod + "internal/"},
	}
	for pkg, bad := range forbidden {
		out, err := exec.Command("go", "list", "-deps", mod+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == mod+pkg {
				continue
			}
			for _, b := range bad {
				if strings.HasPrefix(dep, b) && !(pkg == "internal/keyhold" && dep == mod+"internal/keyhold") {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
}
