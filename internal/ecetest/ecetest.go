// Package ecetest checks, in tests, what the kit's sender really puts on the
// wire: it decrypts Web Push message bodies (RFC 8291 over the aes128gcm
// content coding of RFC 8188). Package vapidverify checks the VAPID
// Authorization header that goes with them (RFC 8292).
//
// It is written from the RFCs with the standard library alone, independent of
// the library the sender encrypts with, so a test that decrypts a body here
// proves that a browser could decrypt it too. Only _test.go files import it.
package ecetest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// Sizes fixed by RFC 8188 and RFC 8291.
const (
	saltLen    = 16
	headerLen  = saltLen + 4 + 1 // salt, rs, idlen; keyid follows
	tagLen     = 16
	authLen    = 16
	pointLen   = 65 // uncompressed P-256 point
	minRecord  = tagLen + 1
	nonceLen   = 12
	maxRecords = 1 << 20 // more would mean a body of gigabytes; refuse rather than loop
)

// Decrypt returns the plaintext of a Web Push message body encrypted for the
// user agent whose key pair is uaPrivate and whose authentication secret is
// authSecret.
//
// body is the whole HTTP request body: the aes128gcm header (salt, record
// size, key id length, key id = the application server's ephemeral public
// key) followed by one or more records, each ending in a padding delimiter
// (0x01 for every record but the last, 0x02 for the last) and zero padding.
func Decrypt(body []byte, uaPrivate *ecdh.PrivateKey, authSecret []byte) ([]byte, error) {
	if uaPrivate == nil || uaPrivate.Curve() != ecdh.P256() {
		return nil, errors.New("ecetest: user agent key must be a P-256 private key")
	}
	if len(authSecret) != authLen {
		return nil, fmt.Errorf("ecetest: auth secret is %d bytes, want %d", len(authSecret), authLen)
	}
	if len(body) < headerLen {
		return nil, fmt.Errorf("ecetest: body of %d bytes is shorter than the header", len(body))
	}
	salt := body[:saltLen]
	rs := binary.BigEndian.Uint32(body[saltLen : saltLen+4])
	idlen := int(body[saltLen+4])
	if rs < minRecord+1 { // RFC 8188 section 2.1: rs of 17 or less is invalid
		return nil, fmt.Errorf("ecetest: record size %d is too small", rs)
	}
	if idlen != pointLen {
		return nil, fmt.Errorf("ecetest: key id is %d bytes, RFC 8291 wants the %d-byte sender key", idlen, pointLen)
	}
	if len(body) < headerLen+idlen {
		return nil, errors.New("ecetest: body ends inside the key id")
	}
	asPublicBytes := body[headerLen : headerLen+idlen]
	records := body[headerLen+idlen:]
	if len(records) == 0 {
		return nil, errors.New("ecetest: body has no record")
	}

	asPublic, err := ecdh.P256().NewPublicKey(asPublicBytes)
	if err != nil {
		return nil, fmt.Errorf("ecetest: sender key: %w", err)
	}
	ecdhSecret, err := uaPrivate.ECDH(asPublic)
	if err != nil {
		return nil, fmt.Errorf("ecetest: ECDH: %w", err)
	}

	// RFC 8291 section 3.4: IKM from the ECDH secret, salted with the auth
	// secret, bound to both public keys.
	keyInfo := "WebPush: info\x00" + string(uaPrivate.PublicKey().Bytes()) + string(asPublicBytes)
	ikm, err := hkdf.Key(sha256.New, ecdhSecret, authSecret, keyInfo, 32)
	if err != nil {
		return nil, err
	}
	// RFC 8188 section 2.2 and 2.3: content encryption key and nonce.
	prk, err := hkdf.Extract(sha256.New, ikm, salt)
	if err != nil {
		return nil, err
	}
	cek, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: aes128gcm\x00", 16)
	if err != nil {
		return nil, err
	}
	baseNonce, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: nonce\x00", nonceLen)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}

	var plaintext []byte
	nonce := make([]byte, nonceLen)
	for seq := uint64(0); len(records) > 0; seq++ {
		if seq >= maxRecords {
			return nil, errors.New("ecetest: too many records")
		}
		n := min(int(rs), len(records))
		record := records[:n]
		records = records[n:]
		last := len(records) == 0
		if len(record) < minRecord {
			return nil, fmt.Errorf("ecetest: record %d is %d bytes, too short for a tag and a delimiter", seq, len(record))
		}
		// The record's nonce is the base nonce XOR its sequence number,
		// big-endian in the low 96 bits.
		copy(nonce, baseNonce)
		var seqBytes [8]byte
		binary.BigEndian.PutUint64(seqBytes[:], seq)
		for i := range seqBytes {
			nonce[nonceLen-8+i] ^= seqBytes[i]
		}
		padded, err := aead.Open(nil, nonce, record, nil)
		if err != nil {
			return nil, fmt.Errorf("ecetest: record %d: %w", seq, err)
		}
		content, delim, err := unpad(padded)
		if err != nil {
			return nil, fmt.Errorf("ecetest: record %d: %w", seq, err)
		}
		switch {
		case last && delim != 0x02:
			return nil, fmt.Errorf("ecetest: last record %d has delimiter 0x%02x, want 0x02 (message truncated?)", seq, delim)
		case !last && delim != 0x01:
			return nil, fmt.Errorf("ecetest: record %d has delimiter 0x%02x before the end of the body", seq, delim)
		}
		plaintext = append(plaintext, content...)
	}
	if plaintext == nil {
		plaintext = []byte{}
	}
	return plaintext, nil
}

// unpad splits a decrypted record into its content and its delimiter: the
// last non-zero byte, after which only zero padding may follow.
func unpad(padded []byte) (content []byte, delim byte, err error) {
	for i := len(padded) - 1; i >= 0; i-- {
		if padded[i] != 0 {
			return padded[:i], padded[i], nil
		}
	}
	return nil, 0, errors.New("no padding delimiter")
}
