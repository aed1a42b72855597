package delivery_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"pushstart/internal/pgtest"
	"pushstart/server/vapid"
)

// These tests run the kit's real binary, kill it, and start it again on the
// same data: what a user sees when a server crashes mid-broadcast.

const processAdminToken = "process-test-admin-token-0123"

var (
	buildOnce sync.Once
	builtKit  string
	buildErr  error
)

// kitBinary builds the kit once per test run.
func kitBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pushstart-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtKit = filepath.Join(dir, "pushstart")
		out, err := exec.Command("go", "build", "-o", builtKit, "pushstart").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtKit
}

// countingPushService answers every push 201 after delay, counting the
// pushes each endpoint path received.
type countingPushService struct {
	*httptest.Server
	mu     sync.Mutex
	counts map[string]int
	total  int
}

func newCountingPushService(t *testing.T, delay time.Duration) *countingPushService {
	p := &countingPushService{counts: map[string]int{}}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(delay)
		p.mu.Lock()
		p.counts[r.URL.Path]++
		p.total++
		p.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *countingPushService) seen() (total int, counts map[string]int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := make(map[string]int, len(p.counts))
	for k, v := range p.counts {
		c[k] = v
	}
	return p.total, c
}

// tally counts, over the n subscriptions subscribe made, those that got no
// push and the pushes beyond the first.
func (p *countingPushService) tally(n int) (total, missed, twice int) {
	total, counts := p.seen()
	for i := range n {
		switch c := counts[fmt.Sprintf("/push/%05d", i)]; {
		case c == 0:
			missed++
		case c > 1:
			twice += c - 1
		}
	}
	return total, missed, twice
}

// kit is one running kit process.
type kit struct {
	cmd  *exec.Cmd
	url  string
	logs *lockedBuffer
	done chan struct{}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startKit runs the binary with env and waits until it listens.
func startKit(t *testing.T, env []string) *kit {
	t.Helper()
	cmd := exec.Command(kitBinary(t))
	cmd.Env = append(os.Environ(), append([]string{"ADDR=127.0.0.1:0", "LOG_FORMAT=json", "LOG_LEVEL=debug"}, env...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	k := &kit{cmd: cmd, logs: &lockedBuffer{}, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			k.logs.Write([]byte(line + "\n"))
			var m struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &m) == nil && m.Msg == "pushstart listening" {
				addr <- m.Addr
			}
		}
		cmd.Wait()
		close(k.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-k.done
		if t.Failed() {
			t.Logf("kit log (last 4 KiB):\n%s", tail(k.logs.String(), 4096))
		}
	})
	select {
	case a := <-addr:
		k.url = "http://" + a
	case <-k.done:
		t.Fatalf("the kit exited before listening:\n%s", k.logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("the kit did not listen within 60 s:\n%s", k.logs.String())
	}
	return k
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (k *kit) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	k.cmd.Process.Signal(sig)
	select {
	case <-k.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the kit did not exit within 30 s of %v", sig)
	}
}

func (k *kit) call(t *testing.T, method, path string, body any, into any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, k.url+path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+processAdminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if into != nil && json.Unmarshal(b, into) != nil {
		t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
	}
	return res.StatusCode
}

// subscribe saves n subscriptions on push, with valid keys.
func subscribe(t *testing.T, k *kit, push *countingPushService, n int) {
	t.Helper()
	for i := range n {
		key, err := ecdh.P256().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		auth := make([]byte, 16)
		rand.Read(auth)
		sub := map[string]any{
			"endpoint": fmt.Sprintf("%s/push/%05d", push.URL, i),
			"keys": map[string]string{
				"p256dh": base64.RawURLEncoding.EncodeToString(key.PublicKey().Bytes()),
				"auth":   base64.RawURLEncoding.EncodeToString(auth),
			},
		}
		var out map[string]any
		if status := k.call(t, "POST", "/api/subscriptions", sub, &out); status != 201 {
			t.Fatalf("subscribe %d: %d %v", i, status, out)
		}
	}
}

type status struct {
	ID                                   string
	Status                               string
	Total, Sent, Failed, Pruned, Skipped int
}

// waitDone polls the broadcast until it is done.
func waitDone(t *testing.T, k *kit, id string, within time.Duration) status {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var st status
		if code := k.call(t, "GET", "/api/notifications/"+id, nil, &st); code != 200 {
			t.Fatalf("GET broadcast: %d", code)
		}
		if st.Status == "done" || st.Status == "canceled" {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("broadcast still %s after %v: %+v", st.Status, within, st)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitPushes waits until push has received at least n pushes.
func waitPushes(t *testing.T, push *countingPushService, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if total, _ := push.seen(); total >= n {
			return
		}
		if time.Now().After(deadline) {
			total, _ := push.seen()
			t.Fatalf("only %d pushes within 60 s, waited for %d", total, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// backends are the databases a kit process can run on: SQLite in DATA_DIR,
// and PostgreSQL when a test server is available.
func backends(t *testing.T) map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "" },
		"postgres": func(t *testing.T) string { return pgtest.URL(t) },
	}
}

func kitEnv(t *testing.T, dataDir, databaseURL string, push *countingPushService, keys vapid.Keys) []string {
	return []string{
		"DATA_DIR=" + dataDir,
		"DATABASE_URL=" + databaseURL,
		"ADMIN_TOKEN=" + processAdminToken,
		"PUSH_ALLOWED_HOSTS=" + strings.TrimPrefix(push.URL, "http://"),
		"VAPID_PUBLIC_KEY=" + keys.Public,
		"VAPID_PRIVATE_KEY=" + keys.Private,
		"SUBSCRIBE_RATE=0",
		"MAX_SUBSCRIPTIONS=0",
		"DELIVERY_RESCUE_AFTER=2s",
	}
}

// inFlightBound is the most pushes one process can have sent without their
// outcomes stored: DefaultConcurrency per chunk job, DefaultJobs jobs.
const inFlightBound = 16 * 4

// TestBroadcastSurvivesAKill kills the kit (SIGKILL, then SIGTERM) in the
// middle of a broadcast and starts it again on the same data: every
// subscription gets the push, and only what was in flight at the kill is
// sent twice.
func TestBroadcastSurvivesAKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the kit's binary")
	}
	const n = 1200
	for name, database := range backends(t) {
		for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
			t.Run(name+"/"+sig.String(), func(t *testing.T) {
				databaseURL := database(t)
				push := newCountingPushService(t, 3*time.Millisecond)
				keys, err := vapid.Generate()
				if err != nil {
					t.Fatal(err)
				}
				env := kitEnv(t, t.TempDir(), databaseURL, push, keys)
				k := startKit(t, env)
				subscribe(t, k, push, n)

				var accepted status
				if code := k.call(t, "POST", "/api/notifications", map[string]any{"notification": map[string]any{"title": "Crash"}}, &accepted); code != 202 {
					t.Fatalf("POST broadcast: %d %+v", code, accepted)
				}
				waitPushes(t, push, n/4)
				k.stop(t, sig)
				atKill, _ := push.seen()
				if atKill >= n {
					t.Fatalf("the broadcast finished (%d pushes) before the kill; make it slower", atKill)
				}

				k = startKit(t, env)
				done := waitDone(t, k, accepted.ID, 90*time.Second)
				total, missed, twice := push.tally(n)
				t.Logf("%v at %d of %d pushes; after the restart: %d pushes in all, %d sent twice; %+v", sig, atKill, n, total, twice, done)
				if missed != 0 {
					t.Errorf("%d subscriptions never got the push", missed)
				}
				if twice > inFlightBound {
					t.Errorf("%d pushes sent twice, more than the %d that can be in flight", twice, inFlightBound)
				}
				if done.Status != "done" || done.Total != n || done.Sent != n || done.Failed != 0 {
					t.Errorf("broadcast %+v, want done with %d sent (each outcome recorded once)", done, n)
				}
			})
		}
	}
}

// TestInstancesShareTheWork runs two kit processes on one PostgreSQL
// database: both send the chunks of a broadcast accepted by one, and when
// that one is killed the other finishes it.
func TestInstancesShareTheWork(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the kit's binary")
	}
	const n = 1500
	databaseURL := pgtest.URL(t)
	push := newCountingPushService(t, 3*time.Millisecond)
	keys, err := vapid.Generate()
	if err != nil {
		t.Fatal(err)
	}
	// Chunks of 100: more jobs than one instance runs at once.
	env := func() []string {
		return append(kitEnv(t, t.TempDir(), databaseURL, push, keys), "BROADCAST_CHUNK_SIZE=100")
	}
	a := startKit(t, env())
	b := startKit(t, env())
	subscribe(t, a, push, n)

	var accepted status
	if code := a.call(t, "POST", "/api/notifications", map[string]any{"notification": map[string]any{"title": "Shared"}}, &accepted); code != 202 {
		t.Fatalf("POST broadcast: %d %+v", code, accepted)
	}
	waitPushes(t, push, n/3)
	sentBy := func(k *kit) int { return strings.Count(k.logs.String(), `"msg":"push: sent"`) }
	byA, byB := sentBy(a), sentBy(b)
	a.stop(t, syscall.SIGKILL)

	done := waitDone(t, b, accepted.ID, 90*time.Second)
	_, missed, twice := push.tally(n)
	t.Logf("before the kill: %d pushes by A, %d by B; after: B finished, %d sent twice; %+v", byA, byB, twice, done)
	if byA == 0 || byB == 0 {
		t.Errorf("before the kill A sent %d and B %d pushes; want both instances working", byA, byB)
	}
	if missed != 0 {
		t.Errorf("%d subscriptions never got the push", missed)
	}
	if twice > inFlightBound {
		t.Errorf("%d pushes sent twice, more than the %d that can be in flight", twice, inFlightBound)
	}
	if done.Status != "done" || done.Sent != n {
		t.Errorf("broadcast %+v, want done with %d sent", done, n)
	}

	// An instance with other VAPID keys is refused.
	other, _ := vapid.Generate()
	cmd := exec.CommandContext(context.Background(), kitBinary(t))
	cmd.Env = append(os.Environ(), append([]string{"ADDR=127.0.0.1:0"}, kitEnv(t, t.TempDir(), databaseURL, push, other)...)...)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "VAPID_PUBLIC_KEY") {
		t.Errorf("an instance with other VAPID keys: err %v, output %s; want a refusal naming VAPID_PUBLIC_KEY", err, out)
	}
}

// TestSendCommand drives a running kit with the binary's own client:
// vapid-keys makes the key pair the kit starts with, and send --wait
// follows a broadcast to the end.
func TestSendCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the kit's binary")
	}
	out, err := exec.Command(kitBinary(t), "vapid-keys").Output()
	if err != nil {
		t.Fatalf("vapid-keys: %v", err)
	}
	var keys vapid.Keys
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, value, _ := strings.Cut(line, "=")
		switch name {
		case "VAPID_PUBLIC_KEY":
			keys.Public = value
		case "VAPID_PRIVATE_KEY":
			keys.Private = value
		default:
			t.Fatalf("vapid-keys printed %q", line)
		}
	}
	push := newCountingPushService(t, 0)
	k := startKit(t, kitEnv(t, t.TempDir(), "", push, keys))
	var key map[string]string
	if k.call(t, "GET", "/api/vapid-public-key", nil, &key); key["publicKey"] != keys.Public {
		t.Fatalf("the kit serves %q, not the key vapid-keys printed", key["publicKey"])
	}
	subscribe(t, k, push, 3)

	send := exec.Command(kitBinary(t), "send", "--url", k.url, "--title", "From the shell", "--open", "/", "--wait")
	send.Env = append(os.Environ(), "ADMIN_TOKEN="+processAdminToken)
	out, err = send.CombinedOutput()
	if err != nil {
		t.Fatalf("send --wait: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "done") {
		t.Errorf("send --wait printed %q; want it to end with the broadcast done", out)
	}
	if total, _ := push.seen(); total != 3 {
		t.Errorf("the push service got %d pushes, want 3", total)
	}

	bad := exec.Command(kitBinary(t), "send", "--url", k.url, "--title", "x", "--to-tag", "Not A Tag")
	bad.Env = append(os.Environ(), "ADMIN_TOKEN="+processAdminToken)
	if out, err := bad.CombinedOutput(); err == nil || !strings.Contains(string(out), "--to-tag") {
		t.Errorf("send with a bad tag: %v %s; want a refusal naming --to-tag", err, out)
	}
}

// TestScheduledSurvivesARestart: a broadcast scheduled for later is kept
// across a stop, and sent at its time by the next start.
func TestScheduledSurvivesARestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the kit's binary")
	}
	push := newCountingPushService(t, 0)
	keys, err := vapid.Generate()
	if err != nil {
		t.Fatal(err)
	}
	env := kitEnv(t, t.TempDir(), "", push, keys)
	k := startKit(t, env)
	subscribe(t, k, push, 2)
	at := time.Now().Add(3 * time.Second).UTC()
	var accepted status
	if code := k.call(t, "POST", "/api/notifications", map[string]any{
		"notification": map[string]any{"title": "Later"}, "sendAt": at.Format(time.RFC3339Nano),
	}, &accepted); code != 202 || accepted.Status != "scheduled" {
		t.Fatalf("POST a scheduled broadcast: %d %+v", code, accepted)
	}
	k.stop(t, syscall.SIGTERM)
	time.Sleep(time.Until(at) + time.Second)
	if total, _ := push.seen(); total != 0 {
		t.Fatalf("%d pushes while the kit was stopped", total)
	}

	k = startKit(t, env)
	done := waitDone(t, k, accepted.ID, 60*time.Second)
	if total, _ := push.seen(); done.Status != "done" || done.Sent != 2 || total != 2 {
		t.Errorf("after the restart: %+v, %d pushes; want it sent to both", done, total)
	}
}
