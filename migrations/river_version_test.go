package migrations

import (
	"os"
	"regexp"
	"testing"
)

// RiverVersion keys test templates and names the River tables Migrate creates: it must be
// the River go.mod builds with.
func TestRiverVersionIsGoMods(t *testing.T) {
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*github\.com/riverqueue/river (v\S+)`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod does not require github.com/riverqueue/river")
	}
	if string(m[1]) != RiverVersion {
		t.Fatalf("RiverVersion is %s, go.mod has %s", RiverVersion, m[1])
	}
}
