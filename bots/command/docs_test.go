package command

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated part of docs/admin-bot.md")

const (
	docPath   = "../../docs/admin-bot.md"
	beginMark = "<!-- BEGIN COMMANDS -->"
	endMark   = "<!-- END COMMANDS -->"
	generated = "<!-- Generated from bots/command by `go test ./bots/command -run TestDocs -update`; do not edit. -->"
)

// TestDocs checks that the command reference in docs/admin-bot.md is the
// one Markdown generates; with -update it rewrites it.
func TestDocs(t *testing.T) {
	data, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	begin, end := strings.Index(doc, beginMark), strings.Index(doc, endMark)
	if begin < 0 || end < begin {
		t.Fatalf("%s: no %s … %s markers in this order", docPath, beginMark, endMark)
	}
	want := beginMark + "\n" + generated + "\n\n" + Markdown() + "\n"
	got := doc[begin:end]
	if got == want {
		return
	}
	if !*update {
		t.Fatalf("%s: the command reference differs from the table; run `go test ./bots/command -run TestDocs -update`", docPath)
	}
	if err := os.WriteFile(docPath, []byte(doc[:begin]+want+doc[end:]), 0o644); err != nil {
		t.Fatal(err)
	}
}
