package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"pushstart/server/vapid"
)

const vapidKeysUsage = `Usage: pushstart vapid-keys [--json]

Prints a new VAPID key pair as two lines, ready for an environment file or
export $(pushstart vapid-keys):

  VAPID_PUBLIC_KEY=<base64url>
  VAPID_PRIVATE_KEY=<base64url>

  --json   print {"publicKey": ..., "privateKey": ...} instead, the layout of
           DATA_DIR/vapid.json

Every server sharing one database must use the same pair: each subscription
is bound to the public key, and new keys make every browser subscribe again.
The private key is a secret. Without these settings the server generates a
pair into DATA_DIR/vapid.json on first start.
`

// vapidKeysNote goes to stderr, so that stdout holds the keys alone.
const vapidKeysNote = `# Every pushstart sharing one database must use this same pair: subscriptions are
# bound to the public key, and new keys make every browser subscribe again.
# VAPID_PRIVATE_KEY is a secret: keep it in your secret store, not in git or on a command line.
`

func vapidKeys(args []string, sys IO) int {
	fs := flag.NewFlagSet("pushstart vapid-keys", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "")
	if code, ok := parseFlags(fs, args, "vapid-keys", vapidKeysUsage, sys); !ok {
		return code
	}
	k, err := vapid.Generate()
	if err != nil {
		fmt.Fprintln(sys.Stderr, "pushstart vapid-keys:", err)
		return exitFailure
	}
	if *asJSON {
		// The field names of DATA_DIR/vapid.json, so the output can become
		// that file.
		b, err := json.MarshalIndent(struct {
			PublicKey  string `json:"publicKey"`
			PrivateKey string `json:"privateKey"`
		}{k.Public, k.Private}, "", "  ")
		if err != nil {
			fmt.Fprintln(sys.Stderr, "pushstart vapid-keys:", err)
			return exitFailure
		}
		fmt.Fprintf(sys.Stdout, "%s\n", b)
	} else {
		fmt.Fprintf(sys.Stdout, "VAPID_PUBLIC_KEY=%s\nVAPID_PRIVATE_KEY=%s\n", k.Public, k.Private)
	}
	fmt.Fprint(sys.Stderr, vapidKeysNote)
	return exitOK
}

// parseFlags parses args into fs, whose output is discarded, and reports
// problems itself: ok is false when the command should return code at once
// (0 after -h, 2 for a usage error, with the flag named).
func parseFlags(fs *flag.FlagSet, args []string, cmd, help string, sys IO) (code int, ok bool) {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(sys.Stdout, help)
		return exitOK, false
	case err != nil:
		return usageError(sys, cmd, err.Error()), false
	case fs.NArg() > 0:
		return usageError(sys, cmd, fmt.Sprintf("unexpected argument %q", fs.Arg(0))), false
	}
	return 0, true
}

// usageError reports a wrong command line and returns its exit status.
func usageError(sys IO, cmd, msg string) int {
	fmt.Fprintf(sys.Stderr, "pushstart %s: %s\nRun pushstart help %s for its flags.\n", cmd, msg, cmd)
	return exitUsage
}
