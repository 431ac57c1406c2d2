// Package cli holds prefect-apply's cobra commands. Each command has an
// options struct and a run function; all output goes through IOStreams so
// tests can capture it, and errors are mapped to exit codes in one place.
package cli

import (
	"bytes"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/prefect-apply/prefect-apply/internal/redact"
)

// IOStreams is where commands read and write.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// InTTY and OutTTY say whether a person is at the terminal: prompts need
	// InTTY, colour needs OutTTY.
	InTTY, OutTTY bool
	// Color enables ANSI colour on Out.
	Color bool
	// secrets are the secret values the command knows, masked in what it
	// prints (see secrets.go).
	secrets redact.Set
}

// System returns the process's streams with terminal detection.
func System() *IOStreams {
	outTTY := term.IsTerminal(int(os.Stdout.Fd()))
	_, noColor := os.LookupEnv("NO_COLOR")
	return &IOStreams{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		InTTY:  term.IsTerminal(int(os.Stdin.Fd())),
		OutTTY: outTTY,
		Color:  outTTY && !noColor && os.Getenv("TERM") != "dumb",
	}
}

// Test returns streams backed by buffers: stdin, stdout, stderr.
func Test() (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}
