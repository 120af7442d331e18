package records_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the package at the bottom of the module: it
// imports no other package of the module (store, which implements its
// interfaces, imports it; retention may), no database and no network code.
func TestDependencies(t *testing.T) {
	cmd := exec.Command("go", "list", "-tags", "goolm", "-deps", ".")
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		switch {
		case strings.HasPrefix(pkg, "github.com/landesmessenger/landesmessenger/") && pkg != "github.com/landesmessenger/landesmessenger/records",
			pkg == "database/sql", pkg == "net/http":
			t.Errorf("records depends on %s", pkg)
		}
	}
}
