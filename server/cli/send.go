package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"time"

	"pushstart/api"
	"pushstart/push"
)

const sendUsage = `Usage: pushstart send [flags]

Sends a notification through the admin API of a running pushstart server
(POST /api/notifications) and prints the broadcast's id, status and address.

The notification:
  --title TEXT        the title (required)
  --body TEXT         the text under it
  --open PATH         the page a click opens, a path on the server's origin (default /)
  --icon URL          the icon
  --tag TAG           a later notification with the same tag replaces this one
  --json FILE         the whole request body from FILE (- for stdin), JSON as in
                      the API; instead of the flags above and below

How, to whom and when:
  --ttl SECONDS       how long a push service keeps it for an offline browser (default one day)
  --urgency LEVEL     very-low, low, normal or high
  --topic NAME        a later message with the same topic replaces this one while undelivered
  --to-tag TAG        the subscriptions with this tag; repeat for more
  --to-user ID        the subscriptions of this user; repeat for more
  --to-endpoint URL   this subscription; repeat for more
                      (one kind of --to-*; without any, every subscription)
  --at TIME           send at this time, RFC 3339: 2026-05-01T09:00:00+02:00

Following and managing broadcasts:
  --wait              follow the broadcast until it is done, a line per change
                      (Ctrl-C stops following, not the broadcast)
  --status ID         show a broadcast; with --wait, follow it
  --cancel ID         cancel a broadcast that is not done yet

The server:
  --url URL           its address (PUSHSTART_URL; default http://localhost:8000)
  --token TOKEN       the admin token (ADMIN_TOKEN; default: read from the data directory).
                      Other users of this machine can see a command line: prefer ADMIN_TOKEN
  --data-dir DIR      the server's data directory, holding admin-token (DATA_DIR; default ./data)
  --insecure          send the token over plain http to another machine anyway

Exit status: 0 when done, 1 when the server refuses or the broadcast is canceled,
2 for a wrong command line (nothing is sent).
`

// stringsFlag is a flag that may be repeated.
type stringsFlag []string

func (f *stringsFlag) String() string { return strings.Join(*f, ",") }

func (f *stringsFlag) Set(v string) error {
	*f = append(*f, v)
	return nil
}

// sendFlags is send's command line.
type sendFlags struct {
	url, token, dataDir string
	insecure            bool

	title, body, open, icon, tag string
	jsonFile                     string
	ttl                          int
	urgency, topic               string
	toTags, toUsers, toEndpoints stringsFlag
	at                           string

	wait           bool
	status, cancel string

	set map[string]bool // the flags given
}

// notificationFlags are the flags that shape the request body, in the
// order of the usage.
var notificationFlags = []string{"title", "body", "open", "icon", "tag", "ttl", "urgency", "topic", "to-tag", "to-user", "to-endpoint", "at"}

func parseSendFlags(args []string, sys IO) (f sendFlags, code int, ok bool) {
	fs := f.flagSet(sys)
	if code, ok := parseFlags(fs, args, "send", sendUsage, sys); !ok {
		return f, code, false
	}
	f.set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	if msg := f.conflict(); msg != "" {
		return f, usageError(sys, "send", msg), false
	}
	return f, 0, true
}

// flagSet defines send's flags into f, with their defaults from the
// environment. sendUsage documents them.
func (f *sendFlags) flagSet(sys IO) *flag.FlagSet {
	fs := flag.NewFlagSet("pushstart send", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&f.url, "url", cmpEnv(sys, "PUSHSTART_URL", "http://localhost:8000"), "")
	fs.StringVar(&f.token, "token", "", "")
	fs.StringVar(&f.dataDir, "data-dir", cmpEnv(sys, "DATA_DIR", "./data"), "")
	fs.BoolVar(&f.insecure, "insecure", false, "")
	fs.StringVar(&f.title, "title", "", "")
	fs.StringVar(&f.body, "body", "", "")
	fs.StringVar(&f.open, "open", "", "")
	fs.StringVar(&f.icon, "icon", "", "")
	fs.StringVar(&f.tag, "tag", "", "")
	fs.StringVar(&f.jsonFile, "json", "", "")
	fs.IntVar(&f.ttl, "ttl", 0, "")
	fs.StringVar(&f.urgency, "urgency", "", "")
	fs.StringVar(&f.topic, "topic", "", "")
	fs.Var(&f.toTags, "to-tag", "")
	fs.Var(&f.toUsers, "to-user", "")
	fs.Var(&f.toEndpoints, "to-endpoint", "")
	fs.StringVar(&f.at, "at", "", "")
	fs.BoolVar(&f.wait, "wait", false, "")
	fs.StringVar(&f.status, "status", "", "")
	fs.StringVar(&f.cancel, "cancel", "", "")
	return fs
}

// cmpEnv is the value of the environment variable name, or def when it
// is unset.
func cmpEnv(sys IO, name, def string) string {
	if v := strings.TrimSpace(sys.Getenv(name)); v != "" {
		return v
	}
	return def
}

// conflict says what is wrong with the combination of flags given, if
// anything.
func (f *sendFlags) conflict() string {
	firstSet := func(names ...string) string {
		for _, n := range names {
			if f.set[n] {
				return "--" + n
			}
		}
		return ""
	}
	for _, id := range []struct{ name, value string }{{"status", f.status}, {"cancel", f.cancel}} {
		if f.set[id.name] && strings.TrimSpace(id.value) == "" {
			return fmt.Sprintf("--%s needs a broadcast's id", id.name)
		}
	}
	switch {
	case f.set["status"] && f.set["cancel"]:
		return "--status and --cancel: give one of them"
	case f.set["cancel"] && f.wait:
		return "--cancel ends a broadcast, --wait follows one: give one of them"
	}
	if op := firstSet("status", "cancel"); op != "" {
		if other := firstSet(append(notificationFlags, "json")...); other != "" {
			return fmt.Sprintf("%s is about a broadcast already sent: %s cannot be given with it", op, other)
		}
		return ""
	}
	if f.set["json"] {
		if other := firstSet(notificationFlags...); other != "" {
			return fmt.Sprintf("--json FILE is the whole request body: %s cannot be given with it", other)
		}
		if f.jsonFile == "" {
			return "--json needs a file name, or - for stdin"
		}
		return ""
	}
	if kinds := countSet(f.set, "to-tag", "to-user", "to-endpoint"); kinds > 1 {
		return "--to-tag, --to-user and --to-endpoint: give one kind of audience"
	}
	if strings.TrimSpace(f.title) == "" {
		return "--title is required (or --json FILE)"
	}
	return ""
}

func countSet(set map[string]bool, names ...string) int {
	n := 0
	for _, name := range names {
		if set[name] {
			n++
		}
	}
	return n
}

// fieldFlags maps the API's fields, without array indexes, to the flags
// that fill them.
var fieldFlags = map[string]string{
	"notification.title":    "--title",
	"notification.body":     "--body",
	"notification.icon":     "--icon",
	"notification.tag":      "--tag",
	"notification.data":     "--open",
	"notification.data.url": "--open",
	"ttl":                   "--ttl",
	"urgency":               "--urgency",
	"topic":                 "--topic",
	"to":                    "--to-tag, --to-user or --to-endpoint",
	"to.tags":               "--to-tag",
	"to.users":              "--to-user",
	"to.endpoints":          "--to-endpoint",
	"sendAt":                "--at",
}

var arrayIndex = regexp.MustCompile(`\[\d+\]`)

// flagFor names the flag behind a field of the request body, or "".
func flagFor(field string) string {
	return fieldFlags[arrayIndex.ReplaceAllString(field, "")]
}

// broadcastBody builds the request body from the flags, checking it with
// the rules the server applies (so a mistake is named by its flag before
// anything is sent), or reads it from --json. origin, --url's, stands for
// the server's PUBLIC_URL in the size check: the same when that is set as
// it should be. The page asks the server for its own (api.VAPIDKey); here
// that would cost a request before the flags are even checked, and the
// server checks the size again with its origin, its 400 naming the flag.
func (f *sendFlags) broadcastBody(stdin io.Reader, origin push.Origin) ([]byte, string) {
	if f.set["json"] {
		return f.readJSON(stdin)
	}
	b := api.Broadcast{
		Notification: &push.Notification{Title: f.title, Body: f.body, Icon: f.icon, Tag: f.tag},
		Urgency:      f.urgency,
		Topic:        f.topic,
	}
	if f.set["open"] {
		data, err := json.Marshal(map[string]string{"url": f.open})
		if err != nil {
			return nil, "--open: " + err.Error()
		}
		b.Notification.Data = data
	}
	if f.set["ttl"] {
		b.TTL = &f.ttl
	}
	switch {
	case len(f.toTags) > 0:
		b.To = &api.Audience{Tags: f.toTags}
	case len(f.toUsers) > 0:
		b.To = &api.Audience{Users: f.toUsers}
	case len(f.toEndpoints) > 0:
		b.To = &api.Audience{Endpoints: f.toEndpoints}
	}
	if f.set["at"] {
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(f.at))
		if err != nil {
			return nil, fmt.Sprintf("--at %q: want an RFC 3339 time such as 2026-05-01T09:00:00+02:00 or 2026-05-01T07:00:00Z", f.at)
		}
		b.SendAt = &t
	}

	payload, err := b.Notification.MarshalBroadcast(origin)
	if err == nil {
		err = push.Message{Payload: payload, TTL: f.ttl, Urgency: f.urgency, Topic: f.topic}.Validate()
	}
	if err == nil && b.To != nil && b.To.Tags != nil {
		err = push.CheckTags("to.tags", b.To.Tags)
	}
	if fe := (*push.FieldError)(nil); errors.As(err, &fe) {
		if fl := flagFor(fe.Field); fl != "" {
			return nil, fl + ": " + fe.Message
		}
		return nil, fe.Field + ": " + fe.Message
	} else if err != nil {
		return nil, err.Error()
	}
	body, err := json.Marshal(b)
	if err != nil {
		return nil, err.Error()
	}
	return body, ""
}

// readJSON reads --json FILE, which is sent as it is: the server checks it
// and names any field at fault.
func (f *sendFlags) readJSON(stdin io.Reader) ([]byte, string) {
	r, name := stdin, "stdin"
	if f.jsonFile != "-" {
		file, err := os.Open(f.jsonFile)
		if err != nil {
			return nil, "--json: " + err.Error()
		}
		defer file.Close()
		r, name = file, f.jsonFile
	}
	body, err := io.ReadAll(io.LimitReader(r, maxBody+1))
	switch {
	case err != nil:
		return nil, fmt.Sprintf("--json: reading %s: %v", name, err)
	case len(body) > maxBody:
		return nil, fmt.Sprintf("--json: %s is larger than %d bytes", name, maxBody)
	case !json.Valid(body):
		return nil, fmt.Sprintf("--json: %s is not valid JSON", name)
	}
	return body, ""
}

// send runs pushstart send.
func send(ctx context.Context, args []string, sys IO, policy followPolicy) int {
	f, code, ok := parseSendFlags(args, sys)
	if !ok {
		return code
	}
	base, err := checkURL(strings.TrimSpace(f.url), f.insecure)
	if err != nil {
		return usageError(sys, "send", err.Error())
	}
	var body []byte
	if !f.set["status"] && !f.set["cancel"] {
		origin, err := push.ParseOrigin(base.Scheme + "://" + base.Host)
		if err != nil {
			return usageError(sys, "send", fmt.Sprintf("--url %s: the origin %v", base.Redacted(), err))
		}
		var msg string
		if body, msg = f.broadcastBody(sys.Stdin, origin); msg != "" {
			return usageError(sys, "send", msg)
		}
	}
	token, from, err := findToken(f.token, strings.TrimSpace(sys.Getenv("ADMIN_TOKEN")), f.dataDir)
	if err != nil {
		fmt.Fprintln(sys.Stderr, "pushstart send:", err)
		return exitFailure
	}
	c := &client{http: newHTTPClient(sys.Client), base: base, token: token, tokenFrom: from}
	r := &sendRun{c: c, sys: sys, flags: &f, policy: policy}

	switch {
	case f.set["cancel"]:
		s, err := c.cancel(ctx, f.cancel)
		if err != nil {
			return r.fail(ctx, err, "")
		}
		describe(sys.Stdout, s, true, "")
		return exitOK
	case f.set["status"]:
		s, err := c.get(ctx, f.status)
		if err != nil {
			return r.fail(ctx, err, "")
		}
		if !f.wait {
			describe(sys.Stdout, s, true, "")
			return exitOK
		}
		return r.wait(ctx, s)
	default:
		s, loc, err := c.create(ctx, body)
		if err != nil {
			return r.fail(ctx, err, "")
		}
		if !f.wait {
			describe(sys.Stdout, s, false, loc)
			return exitOK
		}
		field(sys.Stdout, "id", s.ID)
		if loc != "" {
			field(sys.Stdout, "location", loc)
		}
		return r.wait(ctx, s)
	}
}

// sendRun is one run of send against a server.
type sendRun struct {
	c      *client
	sys    IO
	flags  *sendFlags
	policy followPolicy
}

// wait follows a broadcast from s to its end, a progress line per change.
func (r *sendRun) wait(ctx context.Context, s api.BroadcastStatus) int {
	show := func(s api.BroadcastStatus) { fmt.Fprintln(r.sys.Stdout, progress(s)) }
	show(s)
	s, err := r.c.follow(ctx, s.ID, s, show, r.policy, r.sys.Stderr)
	switch {
	case s.Status == api.StatusDone:
		return exitOK
	case s.Status == api.StatusCanceled:
		fmt.Fprintf(r.sys.Stderr, "pushstart send: broadcast %s was canceled\n", s.ID)
		return exitFailure
	}
	return r.fail(ctx, err, s.ID)
}

// fail reports err and returns the exit status. id, when set, is the
// broadcast that goes on without us.
func (r *sendRun) fail(ctx context.Context, err error, id string) int {
	stderr := r.sys.Stderr
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "pushstart send: interrupted")
		if id != "" {
			fmt.Fprintf(stderr, "The broadcast goes on: pushstart send --status %s shows it, --cancel %s stops it.\n", id, id)
		}
		return exitInterrupt
	}
	fmt.Fprintln(stderr, "pushstart send:", err)
	var ae *answerError
	if !errors.As(err, &ae) {
		// No answer at all: a refused connection, a name that does not
		// resolve, a timeout.
		fmt.Fprintf(stderr, "  is pushstart running at %s? (--url, PUSHSTART_URL)\n", r.c.base)
	}
	if ae != nil && ae.API != nil {
		if fld := ae.API.Field; fld != "" {
			if fl := flagFor(fld); fl != "" && !r.flags.set["json"] {
				fmt.Fprintf(stderr, "  field: %s (%s)\n", fld, fl)
			} else {
				fmt.Fprintf(stderr, "  field: %s\n", fld)
			}
		}
		if ae.Status == http.StatusUnauthorized {
			fmt.Fprintf(stderr, "  the admin token came from %s: is it the token of the server at %s?\n", r.c.tokenFrom, r.c.base)
		}
	}
	if id != "" {
		fmt.Fprintf(stderr, "The broadcast may go on: pushstart send --status %s shows it.\n", id)
	}
	return exitFailure
}

// progress is a broadcast's status in one line, as --wait prints it.
func progress(s api.BroadcastStatus) string {
	line := fmt.Sprintf("%s: %d sent, %d failed, %d pruned of %d", s.Status, s.Sent, s.Failed, s.Pruned, s.Total)
	if s.Skipped > 0 {
		line += fmt.Sprintf(", %d skipped", s.Skipped)
	}
	if s.Status == api.StatusScheduled && s.SendAt != nil {
		line += ", sending at " + s.SendAt.Format(time.RFC3339)
	}
	return line
}

// describe prints a broadcast's status, a "name: value" line each. full
// adds what only matters once a broadcast has started.
func describe(w io.Writer, s api.BroadcastStatus, full bool, location string) {
	line := func(name string, v any) { field(w, name, v) }
	when := func(name string, t *time.Time) {
		if t != nil && !t.IsZero() {
			line(name, t.Format(time.RFC3339))
		}
	}
	line("id", s.ID)
	line("status", s.Status)
	if full {
		line("title", s.Title)
	}
	line("audience", s.Audience)
	line("total", s.Total)
	if full {
		line("sent", s.Sent)
		line("failed", s.Failed)
		line("pruned", s.Pruned)
		line("skipped", s.Skipped)
		when("created", &s.CreatedAt)
	}
	when("send at", s.SendAt)
	if full {
		when("started", s.StartedAt)
		when("finished", s.FinishedAt)
	}
	if location != "" {
		line("location", location)
	}
}

// field prints one "name: value" line, the values aligned.
func field(w io.Writer, name string, v any) { fmt.Fprintf(w, "%-9s %v\n", name+":", v) }
