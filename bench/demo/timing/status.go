package timing

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// Status writes progress to w. On a terminal it keeps one line and rewrites it in
// place for each stage; anywhere else (a pipe, a file, CI's log) it writes one line
// per stage, so that a log holds no carriage returns.
type Status struct {
	w    io.Writer
	tty  bool
	last int // length of the line on the terminal, padding included
}

// NewStatus returns a Status writing to w, which counts as a terminal when it is an
// *os.File on a character device.
func NewStatus(w io.Writer) *Status {
	s := &Status{w: w}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			s.tty = true
		}
	}
	return s
}

// Stage reports the stage now running.
func (s *Status) Stage(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if !s.tty {
		fmt.Fprintln(s.w, msg)
		return
	}
	fmt.Fprintf(s.w, "\r%s%s", msg, strings.Repeat(" ", max(0, s.last-len(msg))))
	s.last = max(s.last, len(msg))
}

// Done ends the stages with a last line that stays (nothing when format is empty).
func (s *Status) Done(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if s.tty && s.last > 0 {
		fmt.Fprintf(s.w, "\r%s\r", strings.Repeat(" ", s.last))
	}
	s.last = 0
	if msg != "" {
		fmt.Fprintln(s.w, msg)
	}
}
