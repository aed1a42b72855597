// Package messageid issues and checks the message ids the server puts in
// each push of a broadcast (push.WithMessageID), which the service worker
// sends back with what became of the notification (POST /api/events).
//
// An id names one push: its broadcast and the subscription it was sent to,
// signed with a key only the server knows:
//
//	broadcastID "." base36(subscriptionID) "." base64url(MAC)
//
// where MAC is the first 12 bytes of HMAC-SHA256(key, broadcastID "\x00"
// subscriptionID as 8 big-endian bytes). Knowing a broadcast's id (it is in
// the admin console's URLs) is not enough to report on it: a report counts
// only for the one subscription its id was issued for, and only someone who
// received that push has the id.
package messageid

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"pushstart/push"
)

// KeySize is the length of a Signer's key, in bytes.
const KeySize = 32

// macSize is how many bytes of the HMAC an id keeps: 96 bits, beyond any
// guessing over HTTP, in 16 characters of base64url.
const macSize = 12

// Signer issues and checks message ids with one key. Every instance of the
// server sharing a database must use the same key, so that an id one issued
// is accepted by all (see NewKey). A Signer is safe for concurrent use.
type Signer struct {
	key []byte
}

// New returns a Signer with key, which must be KeySize bytes.
func New(key []byte) (*Signer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("messageid: key of %d bytes, want %d", len(key), KeySize)
	}
	return &Signer{key: append([]byte(nil), key...)}, nil
}

// NewKey returns a new random key, encoded as Parse reads it: the value to
// offer store.Setting, where the first instance's key wins.
func NewKey() string {
	key := make([]byte, KeySize)
	rand.Read(key)
	return base64.RawURLEncoding.EncodeToString(key)
}

// Parse returns a Signer with the key NewKey encoded.
func Parse(encoded string) (*Signer, error) {
	key, err := base64.RawURLEncoding.DecodeString(encoded)
	if err != nil {
		return nil, fmt.Errorf("messageid: key is not base64url: %w", err)
	}
	return New(key)
}

// Sign returns the message id of the push of broadcast broadcastID to
// subscription subscriptionID. broadcastID must be 1 to store.MaxBroadcastID
// bytes of the base64url alphabet (the engine's ids are hex) and
// subscriptionID positive; the id then fits push.MaxMessageID.
func (s *Signer) Sign(broadcastID string, subscriptionID int64) string {
	mac := s.mac(broadcastID, subscriptionID)
	return broadcastID + "." + strconv.FormatInt(subscriptionID, 36) + "." +
		base64.RawURLEncoding.EncodeToString(mac)
}

// Verify returns the broadcast and subscription of an id that Sign issued
// with this key, and ok false for anything else: an id too long, not of the
// form Sign writes (in its one spelling), or whose MAC does not match,
// which is compared in constant time.
func (s *Signer) Verify(id string) (broadcastID string, subscriptionID int64, ok bool) {
	if len(id) > push.MaxMessageID {
		return "", 0, false
	}
	rest, macText, found := cut(id)
	if !found || len(macText) != base64.RawURLEncoding.EncodedLen(macSize) {
		return "", 0, false
	}
	bid, subText, found := cut(rest)
	if !found || bid == "" || !push.IsBase64URL(bid) {
		return "", 0, false
	}
	sub, err := strconv.ParseInt(subText, 36, 64)
	// One spelling per id: no sign, no leading zeros, lower case.
	if err != nil || sub <= 0 || strconv.FormatInt(sub, 36) != subText {
		return "", 0, false
	}
	mac, err := base64.RawURLEncoding.Strict().DecodeString(macText)
	if err != nil || !hmac.Equal(mac, s.mac(bid, sub)) {
		return "", 0, false
	}
	return bid, sub, true
}

// mac is the MAC of one push, truncated to macSize bytes.
func (s *Signer) mac(broadcastID string, subscriptionID int64) []byte {
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte(broadcastID))
	var sub [9]byte // the separator, then the id
	binary.BigEndian.PutUint64(sub[1:], uint64(subscriptionID))
	h.Write(sub[:])
	return h.Sum(nil)[:macSize]
}

// cut splits s around its last ".".
func cut(s string) (before, after string, found bool) {
	i := strings.LastIndexByte(s, '.')
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}
