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
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// silent returns an error that exits with code and prints nothing more.
func silent(code int) error { return &ExitError{Code: code} }

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
