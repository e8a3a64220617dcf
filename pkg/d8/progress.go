package d8

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress shows how far an upload is: a bar when stderr is a terminal, otherwise a plain
// line per 10% (logs of CI jobs and scripts stay readable).
type progress struct {
	out   io.Writer
	name  string
	size  int64
	bar   *progressbar.ProgressBar
	shown int64 // last tenth printed, plain mode
}

func newProgress(out io.Writer, name string, size int64) *progress {
	p := &progress{out: out, name: name, size: size, shown: -1}
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions64(size,
			progressbar.OptionSetWriter(out),
			progressbar.OptionSetDescription(name),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionFullWidth(),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(out) }),
		)
	}
	return p
}

// set reports the server's offset; it may go back when an interrupted chunk is resent.
func (p *progress) set(offset int64) {
	if p.bar != nil {
		_ = p.bar.Set64(offset)
		return
	}
	tenth := int64(10)
	if p.size > 0 {
		tenth = offset * 10 / p.size
	}
	if tenth > p.shown {
		p.shown = tenth
		fmt.Fprintf(p.out, "%s: %d of %d bytes (%d%%)\n", p.name, offset, p.size, tenth*10)
	}
}

func (p *progress) logf(format string, args ...any) {
	if p.bar != nil {
		// Keep the message on a line of its own, above the bar.
		_ = p.bar.Clear()
	}
	fmt.Fprintf(p.out, "%s: %s\n", p.name, fmt.Sprintf(format, args...))
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

func (p *progress) abort() {
	if p.bar != nil {
		_ = p.bar.Exit()
		fmt.Fprintln(p.out)
	}
}
