package cli

import (
	"errors"
	"fmt"
)

// Exit codes, as pipelines branch on them (Terraform's -detailed-exitcode).
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitChanges = 2
)

// ExitError carries an exit code; a nil Err means the command already said
// everything it had to say.
type ExitError struct {
	Code int
	Err  error
	// said is what the command already told the user, in its own words,
	// when Err is nil: the error's message, not printed again.
	said error
}

func (e *ExitError) Error() string {
	switch {
	case e.Err != nil:
		return e.Err.Error()
	case e.said != nil:
		return e.said.Error()
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

func (e *ExitError) Unwrap() error {
	if e.Err != nil {
		return e.Err
	}
	return e.said
}

// silent returns an error that exits with code and prints nothing more.
func silent(code int) error { return &ExitError{Code: code} }

// silentBecause is silent, with the reason the command already gave, for
// what states it again (sync's JSON document).
func silentBecause(code int, reason error) error { return &ExitError{Code: code, said: reason} }

// ExitCode maps an error to the process exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return ExitFailure
}
