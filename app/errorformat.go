package app

import (
	"errors"
	"strings"

	"pushstart/push"
)

// How a failure reads in the flow log. The alert region shows err.Error();
// the log names the step that failed in its title and gives the browser's
// own words in its detail, so a reader can search for them.

// errorTitle names the failed step for the flow log.
func errorTitle(err error) string {
	if pe, ok := asPushError(err); ok {
		return pe.Op + " failed (" + string(pe.Kind) + ")"
	}
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Method + " " + ae.Path + " failed"
	}
	var fe *push.FieldError
	if errors.As(err, &fe) {
		if fe.Field == "tags" || strings.HasPrefix(fe.Field, "tags[") {
			return "The topics are invalid"
		}
		return "The notification is invalid"
	}
	return "Failed"
}

// errorDetail is the whole error, with the browser's exception when there
// was one.
func errorDetail(err error) string {
	pe, ok := asPushError(err)
	if !ok {
		return err.Error()
	}
	d := ""
	if pe.Name != "" {
		d += "Browser exception: " + pe.Name + "\n"
	}
	if pe.Message != "" {
		d += "Message: " + pe.Message + "\n"
	}
	if pe.Hint != "" {
		d += "What to do: " + pe.Hint + "\n"
	}
	return d
}
