// Package progress reports the progress of long work: a one-line bar
// redrawn in place when the output is a terminal, plain lines otherwise
// (logs, CI, pipes), at most one every Interval.
//
// A terminal line looks like
//
//	quantize  [#########...........]  12/28 blocks  43%  00:41 left  loss 0.0123
//
// and a plain line like
//
//	quantize: 12/28 blocks (43%), 00:41 left, loss 0.0123
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Interval is the minimum time between two plain-text lines.
var Interval = 5 * time.Second

// Bar tracks done out of total units of work. Its methods are safe for
// concurrent use. A nil *Bar ignores every call, so callers can pass nil to
// mean "no progress output".
type Bar struct {
	mu       sync.Mutex
	w        io.Writer
	label    string
	unit     string
	total    int
	done     int
	info     string
	tty      bool
	start    time.Time
	last     time.Time
	now      func() time.Time
	finished bool
}

// New returns a bar writing to w. unit names what is counted ("blocks",
// "steps"); total <= 0 means unknown.
func New(w io.Writer, label, unit string, total int) *Bar {
	b := &Bar{w: w, label: label, unit: unit, total: total, tty: IsTerminal(w), now: time.Now}
	b.start = b.now()
	return b
}

// IsTerminal reports whether w is a character device (a terminal).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Add advances the bar by n units.
func (b *Bar) Add(n int) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done += n
	b.draw(false)
}

// Set sets the number of units done.
func (b *Bar) Set(done int) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done = done
	b.draw(false)
}

// Info sets a short status shown after the counts (e.g. "loss 1.234  5120 tok/s").
func (b *Bar) Info(format string, args ...any) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.info = fmt.Sprintf(format, args...)
}

// Done draws the final state and ends the line. Further calls do nothing.
func (b *Bar) Done() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	b.draw(true)
	if b.tty {
		fmt.Fprintln(b.w)
	}
	b.finished = true
}

func (b *Bar) draw(final bool) {
	if b.finished {
		return
	}
	now := b.now()
	if !final {
		min := Interval
		if b.tty {
			min = 100 * time.Millisecond
		}
		if !b.last.IsZero() && now.Sub(b.last) < min {
			return
		}
	}
	b.last = now
	elapsed := now.Sub(b.start)
	var eta string
	if b.total > 0 && b.done > 0 && b.done < b.total {
		left := time.Duration(float64(elapsed) * float64(b.total-b.done) / float64(b.done))
		eta = clock(left) + " left"
	} else {
		eta = clock(elapsed) + " elapsed"
	}
	counts := fmt.Sprintf("%d", b.done)
	pct := ""
	if b.total > 0 {
		counts = fmt.Sprintf("%d/%d", b.done, b.total)
		pct = fmt.Sprintf("%d%%", 100*b.done/b.total)
	}
	if b.unit != "" {
		counts += " " + b.unit
	}
	if b.tty {
		bar := ""
		if b.total > 0 {
			const width = 24
			filled := min(width, width*b.done/b.total)
			bar = "[" + strings.Repeat("#", filled) + strings.Repeat(".", width-filled) + "]  "
		}
		line := fmt.Sprintf("%s  %s%s  %s  %s  %s", b.label, bar, counts, pct, eta, b.info)
		fmt.Fprintf(b.w, "\r%s\x1b[K", strings.TrimRight(line, " "))
		return
	}
	parts := []string{counts}
	if pct != "" {
		parts[0] += " (" + pct + ")"
	}
	parts = append(parts, eta)
	if b.info != "" {
		parts = append(parts, b.info)
	}
	fmt.Fprintf(b.w, "%s: %s\n", b.label, strings.Join(parts, ", "))
}

// clock formats a duration as mm:ss or h:mm:ss.
func clock(d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%02d:%02d", s/60, s%60)
}
