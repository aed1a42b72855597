// Package gcm emulates, on loopback, the three Google services that
// Chromium's built-in GCM client talks to before and while it receives web
// push messages: the check-in service, the registration service and the MCS
// (Mobile Connection Server) stream over TLS.
//
// Chromium is pointed here with its switches --gcm-checkin-url,
// --gcm-registration-url, --gcm-mcs-endpoint and
// --ignore-certificate-errors-spki-list=<Server.SPKIHash> (the MCS
// certificate is self-signed: the switch trusts exactly its key, and
// Chromium honours it only with --user-data-dir). From then on PushManager.subscribe()
// registers with this package, which reports each subscription through
// Hooks.Registered, and a push message reaches the browser as a
// DataMessageStanza written with Conn.Send, still encrypted: Chromium
// decrypts it itself and fires the service worker's push event.
//
// The package keeps only what the protocol needs (issued check-ins,
// registration tokens, open connections) in memory; queueing, TTL and
// retries belong to the caller.
package gcm

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"sync"
	"time"

	"pushstart/push"
)

// Registration is one push subscription that Chromium registered.
type Registration struct {
	AndroidID string // the browser instance (from "Authorization: AidLogin <android_id>:<token>")
	Token     string // the registration token returned as "token=..."; the endpoint path ends with it
	Subtype   string // X-subtype, "wp:<origin>#<uuid>-V2"
	Sender    string // VAPID public key, base64url as sent
	App       string // "org.chromium.linux"
}

// Message is one push message to deliver as a DataMessageStanza.
type Message struct {
	ID              string // persistent id; Hooks.Acked reports it back once the browser has it
	Token           string // the registration the message is for
	Subtype, Sender string // as in the Registration; filled from Token when empty
	Body            []byte // raw aes128gcm body, exactly as the application server sent it
	TTL             int    // seconds
	Sent            time.Time
	// OnWrite, when set, is called with the stanza just before it is
	// written, while the connection's other writes wait: what it records
	// comes before anything the browser answers. It must not call into the
	// Conn.
	OnWrite func(Stanza)
}

// Stanza is a DataMessageStanza as it goes on the wire, for a caller that
// shows it (Message.OnWrite).
type Stanza struct {
	ID, From, Category, PersistentID string
	AppData                          [][2]string // key, value, in wire order
	StreamID                         int32       // this frame's number in the server's stream
	LastStreamIDReceived             int32       // the frames received from the browser, acknowledged by this one
	TTL                              int32       // seconds
	Sent                             int64       // unix seconds
	ImmediateAck                     bool        // asks the browser to acknowledge at once
	RawData                          []byte      // the encrypted body
}

// Hooks is how the emulation tells its owner what the browser did. The
// methods are called from the goroutine serving the request or connection;
// they may call Conn.Send but must not wait for other calls into this
// package's Server.
type Hooks interface {
	// Registered is called for every web push registration; an error
	// fails it (wrap ErrInvalidSender to tell the browser the key is bad).
	Registered(r Registration) error
	// Unregistered is called when the browser deletes a registration.
	Unregistered(androidID, token string)
	// Connected is called once a browser has logged in on MCS; c stays
	// usable until Disconnected is called with the same c.
	Connected(androidID string, c *Conn)
	// Disconnected is called once for every c given to Connected, when it
	// closes. For a browser that reconnects, the old connection's
	// Disconnected comes before the new one's Connected.
	Disconnected(androidID string, c *Conn)
	// Acked reports persistent ids the browser confirmed it received. An
	// id can be reported more than once (again after a reconnection).
	Acked(androidID string, persistentIDs []string)
}

// Ack is how a browser acknowledged push messages, for Hooks that also
// implement AckHooks.
type Ack struct {
	PersistentIDs []string
	// StreamIDs are the stream ids the messages were sent with, one per
	// persistent id; 0 when not known (an id acknowledged at login was sent
	// on an earlier connection).
	StreamIDs []int32
	// Frame names what acknowledged them: "IqStanza StreamAck", "IqStanza
	// SelectiveAck", "IqStanza", "HeartbeatPing", "HeartbeatAck",
	// "DataMessageStanza" (each through its last_stream_id_received, but
	// SelectiveAck) or "LoginRequest" (its received_persistent_id).
	Frame string
	Tag   byte // the frame's MCS tag
	// LastStreamIDReceived is the frame's last_stream_id_received: every
	// message sent with a stream id up to it has arrived. 0 for a
	// SelectiveAck or a login.
	LastStreamIDReceived int32
}

// AckHooks is an optional extension of Hooks: when the Hooks implement it,
// AckedBy is called in place of Hooks.Acked, saying how the browser
// acknowledged.
type AckHooks interface {
	AckedBy(androidID string, a Ack)
}

// LoginGate is an optional extension of Hooks that can keep a browser
// offline. A login with valid credentials waits, unanswered, for as long
// as LoginWait says; Chromium waits for the answer to its LoginRequest up
// to 30 s (kReadTimeoutMs), so a login held longer than 25 s is closed
// instead and Chromium tries again after its back-off.
type LoginGate interface {
	// LoginWait is called when a browser logs in, and again after each
	// wait: it returns how much longer the login must wait, 0 or less to
	// connect it now. held is how long this login has waited so far (0 at
	// the first call).
	LoginWait(androidID string, held time.Duration) time.Duration
}

// ErrInvalidSender, wrapped in the error of Hooks.Registered, makes the
// registration fail with GCM's INVALID_SENDER, which Chromium does not retry.
var ErrInvalidSender = errors.New("invalid sender")

// Server is the emulation: an HTTP handler for check-in and registration,
// and an MCS listener.
type Server struct {
	hooks Hooks
	log   *slog.Logger
	tls   *tls.Config

	// Timings of the MCS stream. New sets the defaults; tests shorten them
	// before serving.
	pingInterval time.Duration // how often the server sends its own HeartbeatPing
	ackTimeout   time.Duration // how long a client may stay silent after a ping
	loginTimeout time.Duration // TLS handshake + version byte + LoginRequest
	writeTimeout time.Duration // per frame; a client that does not read is dropped
	maxLoginHold time.Duration // the longest a LoginGate may hold one login

	regMu sync.Mutex // serialises registrations, so Hooks see them in order

	mu        sync.Mutex
	closed    bool
	checkins  map[uint64]uint64 // android id -> security token
	regs      map[string]Registration
	listeners map[net.Listener]struct{}
	conns     map[*Conn]struct{}
	byID      map[string]*Conn // the logged-in connection of each android id
	wg        sync.WaitGroup
}

// Default MCS timings.
const (
	defaultPingInterval = time.Minute
	defaultAckTimeout   = 30 * time.Second
	defaultLoginTimeout = 15 * time.Second
	defaultWriteTimeout = 10 * time.Second
	defaultMaxLoginHold = 25 * time.Second // under Chromium's 30 s wait for the LoginResponse
)

// New returns a Server with a fresh self-signed TLS certificate (ECDSA
// P-256, valid for 127.0.0.1, ::1 and localhost) for its MCS listener,
// made with key, or with a new key when key is nil. Chromium trusts the
// certificate by its key (SPKIHash), so a server made again with the same
// key is found again by a Chromium launched for the one before.
func New(h Hooks, log *slog.Logger, key *ecdsa.PrivateKey) (*Server, error) {
	if h == nil {
		return nil, errors.New("gcm: nil Hooks")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cert, err := selfSignedCert(time.Now(), key)
	if err != nil {
		return nil, fmt.Errorf("gcm: certificate: %w", err)
	}
	return &Server{
		hooks: h,
		log:   log,
		tls: &tls.Config{
			Certificates: []tls.Certificate{cert},
			MinVersion:   tls.VersionTLS12,
		},
		pingInterval: defaultPingInterval,
		ackTimeout:   defaultAckTimeout,
		loginTimeout: defaultLoginTimeout,
		writeTimeout: defaultWriteTimeout,
		maxLoginHold: defaultMaxLoginHold,
		checkins:     map[uint64]uint64{},
		regs:         map[string]Registration{},
		listeners:    map[net.Listener]struct{}{},
		conns:        map[*Conn]struct{}{},
		byID:         map[string]*Conn{},
	}, nil
}

// Close closes the listeners given to ServeMCS and every MCS connection
// (telling each client with a Close message first), and waits until their
// goroutines, and so their Disconnected calls, have finished.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	ls := make([]net.Listener, 0, len(s.listeners))
	for l := range s.listeners {
		ls = append(ls, l)
	}
	cs := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		cs = append(cs, c)
	}
	s.mu.Unlock()

	var err error
	for _, l := range ls {
		if e := l.Close(); e != nil && !errors.Is(e, net.ErrClosed) && err == nil {
			err = e
		}
	}
	for _, c := range cs {
		c.shutdown()
	}
	s.wg.Wait()
	return err
}

// Forget drops the registration of token, as a push service forgets an
// expired subscription: the same browser registering the same subscription
// again gets a new token, and so a new endpoint. It reports whether there
// was one.
func (s *Server) Forget(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.regs[token]
	delete(s.regs, token)
	return ok
}

// SPKIHash is the base64 SHA-256 of the MCS certificate's public key (its
// SubjectPublicKeyInfo), as Chromium's --ignore-certificate-errors-spki-list
// wants it: the switch makes Chromium accept this certificate, and only it,
// despite its self-signature.
func (s *Server) SPKIHash() string {
	sum := sha256.Sum256(s.tls.Certificates[0].Leaf.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// selfSignedCert makes the MCS certificate. Chromium accepts it only when
// told its key (SPKIHash); nothing else should trust it.
func selfSignedCert(now time.Time, key *ecdsa.PrivateKey) (tls.Certificate, error) {
	if key == nil {
		var err error
		if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return tls.Certificate{}, err
		}
	} else if key.Curve != elliptic.P256() {
		return tls.Certificate{}, errors.New("the MCS key must be a P-256 key")
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "pushstart local MCS"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(90 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// randomID returns a random non-zero 63-bit number, for android ids and
// security tokens (Chromium stores them as uint64; staying below 2^63 keeps
// them the same when read back as the int64 of the check-in request).
func randomID() uint64 {
	var b [8]byte
	for {
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
		if v := binary.BigEndian.Uint64(b[:]) >> 1; v != 0 {
			return v
		}
	}
}

// newToken returns a registration token: 32 random bytes, base64url, safe
// as the last segment of an endpoint URL.
func newToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return push.EncodeBase64URL(b[:])
}
