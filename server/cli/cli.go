// Package cli holds the subcommands of the pushstart binary beside the
// server itself: vapid-keys, which prints a new VAPID key pair for an
// environment file; send, a client of the admin API that sends and
// follows broadcasts so that nobody has to write their requests by hand;
// and push-service, which runs the local push service (package localpush)
// alone, for the tests of any web app.
//
// It talks to a running server over HTTP only, as any other client would,
// and so imports nothing of the server but the wire types and the domain's
// checks.
package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// IO is what a command reads and writes: the process's standard streams, its
// environment and, for send, the network.
type IO struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// Client makes send's requests; nil for one with the timeouts the
	// admin API needs. Either way, redirects are never followed and
	// Timeout is not used: each request has its own.
	Client *http.Client
}

// Exit statuses shared by the commands.
const (
	exitOK        = 0
	exitFailure   = 1 // the server refused, the network failed, or the broadcast was canceled
	exitUsage     = 2 // the command line is wrong; nothing was sent
	exitInterrupt = 130
)

// Main runs the subcommand args[0] names and returns its exit status. ok is
// false when args name no subcommand (none at all, or flags first): the
// caller then runs the server with args, as it always has.
func Main(ctx context.Context, args []string, sys IO) (code int, ok bool) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return 0, false
	}
	switch args[0] {
	case "vapid-keys":
		return vapidKeys(args[1:], sys), true
	case "send":
		return send(ctx, args[1:], sys, followDefaults), true
	case "push-service":
		return pushService(ctx, args[1:], sys), true
	case "help":
		return help(args[1:], sys), true
	default:
		fmt.Fprintf(sys.Stderr, "pushstart: unknown command %q\n\n%s", args[0], usage)
		return exitUsage, true
	}
}

const usage = `Usage:
  pushstart [flags]          run the server (pushstart -h lists its flags and settings)
  pushstart send [flags]     send a notification through the admin API of a running server
  pushstart vapid-keys       print a new VAPID key pair for the environment (--json for JSON)
  pushstart push-service     run only the local push service, for tests of any web app
  pushstart help [command]   show this, or a command's flags

`

func help(args []string, sys IO) int {
	switch {
	case len(args) == 0, args[0] == "help":
		fmt.Fprint(sys.Stdout, usage)
	case len(args) > 1:
		fmt.Fprintf(sys.Stderr, "pushstart help: one command at most\n")
		return exitUsage
	case args[0] == "send":
		fmt.Fprint(sys.Stdout, sendUsage)
	case args[0] == "vapid-keys":
		fmt.Fprint(sys.Stdout, vapidKeysUsage)
	case args[0] == "push-service":
		fmt.Fprint(sys.Stdout, pushServiceUsage)
	default:
		fmt.Fprintf(sys.Stderr, "pushstart help: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
	return exitOK
}
