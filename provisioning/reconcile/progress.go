package reconcile

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/landesmessenger/landesmessenger/provisioning"
)

// Progress returns a progress callback for Applier.Progress that draws a bar
// on a terminal and writes plain lines otherwise (logs, CI).
func Progress(w io.Writer, terminal bool) func(done, total int, a provisioning.Action, err error) {
	var mu sync.Mutex
	return func(done, total int, a provisioning.Action, err error) {
		mu.Lock()
		defer mu.Unlock()
		if !terminal {
			status := "ok"
			if err != nil {
				status = "FAILED: " + err.Error()
			}
			fmt.Fprintf(w, "[%d/%d] %s %s: %s\n", done, total, provisioning.Symbol(a), provisioning.Describe(a), status)
			return
		}
		if err != nil {
			fmt.Fprintf(w, "\r\033[K%s %s: FAILED: %v\n", provisioning.Symbol(a), provisioning.Describe(a), err)
		}
		const width = 30
		filled := width * done / max(total, 1)
		fmt.Fprintf(w, "\r\033[K[%s%s] %d/%d", strings.Repeat("#", filled), strings.Repeat(" ", width-filled), done, total)
		if done == total {
			fmt.Fprintln(w)
		}
	}
}
