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
		return trf("%s failed (%s)", pe.Op, pe.Kind.text())
	}
	var ae *apiError
	if errors.As(err, &ae) {
		return trf("%s %s failed", ae.Method, ae.Path)
	}
	var fe *push.FieldError
	if errors.As(err, &fe) {
		if fe.Field == "tags" || strings.HasPrefix(fe.Field, "tags[") {
			return tr("The topics are invalid")
		}
		return tr("The notification is invalid")
	}
	return tr("Failed")
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
		d += trf("Browser exception: %s", pe.Name) + "\n"
	}
	if pe.Message != "" {
		d += trf("Message: %s", pe.Message) + "\n"
	}
	if pe.Hint != "" {
		d += trf("What to do: %s", pe.Hint) + "\n"
	}
	return d
}
