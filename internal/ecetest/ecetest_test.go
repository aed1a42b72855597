package ecetest

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"testing"
)

// RFC 8291 Appendix A, as quoted in the kit's protocol notes.
const (
	vecPlaintext = "When I grow up, I want to be a watermelon"
	vecASPrivate = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"
	vecUAPublic  = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
	vecUAPrivate = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"
	vecSalt      = "DGv6ra1nlYgDCS1FRnbzlw"
	vecAuth      = "BTBZMqHH6r4Tts7J_aSIgg"
	vecBody      = "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
)

func b64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return b
}

func vectorKeys(t testing.TB) (ua, as *ecdh.PrivateKey, auth []byte) {
	t.Helper()
	ua, err := ecdh.P256().NewPrivateKey(b64(t, vecUAPrivate))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ua.PublicKey().Bytes(), b64(t, vecUAPublic)) {
		t.Fatal("ua_private does not derive ua_public")
	}
	as, err = ecdh.P256().NewPrivateKey(b64(t, vecASPrivate))
	if err != nil {
		t.Fatal(err)
	}
	return ua, as, b64(t, vecAuth)
}

func TestDecryptAppendixA(t *testing.T) {
	ua, _, auth := vectorKeys(t)
	body := b64(t, vecBody)
	if len(body) != 144 {
		t.Fatalf("vector body is %d bytes, want 144", len(body))
	}
	got, err := Decrypt(body, ua, auth)
	if err != nil {
		t.Fatalf("Decrypt: %v", err)
	}
	if string(got) != vecPlaintext {
		t.Fatalf("Decrypt = %q, want %q", got, vecPlaintext)
	}
}

func TestDecryptRejectsTampering(t *testing.T) {
	ua, _, auth := vectorKeys(t)
	other, err := ecdh.P256().GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) func([]byte) []byte {
		return func(b []byte) []byte { b[i] ^= 0x01; return b }
	}
	tests := []struct {
		name   string
		mutate func([]byte) []byte
		key    *ecdh.PrivateKey
		auth   []byte
	}{
		{name: "ciphertext byte", mutate: flip(120)},
		{name: "tag byte", mutate: flip(143)},
		{name: "salt byte", mutate: flip(0)},
		{name: "sender key byte", mutate: flip(21 + 40)},
		{name: "truncated", mutate: func(b []byte) []byte { return b[:len(b)-1] }},
		{name: "header only", mutate: func(b []byte) []byte { return b[:86] }},
		{name: "short header", mutate: func(b []byte) []byte { return b[:10] }},
		{name: "key id length", mutate: func(b []byte) []byte { b[20] = 64; return b }},
		{name: "tiny record size", mutate: func(b []byte) []byte { copy(b[16:20], []byte{0, 0, 0, 17}); return b }},
		{name: "wrong user agent key", key: other},
		{name: "wrong auth secret", auth: bytes.Repeat([]byte{7}, 16)},
		{name: "auth secret of 8 bytes", auth: auth[:8]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := b64(t, vecBody)
			if tc.mutate != nil {
				body = tc.mutate(body)
			}
			key, a := ua, auth
			if tc.key != nil {
				key = tc.key
			}
			if tc.auth != nil {
				a = tc.auth
			}
			got, err := Decrypt(body, key, a)
			if err == nil {
				t.Fatalf("Decrypt accepted a bad input and returned %q", got)
			}
		})
	}
}

// record is one record for the reference encryptor: its content, its
// padding delimiter and the zero padding after it.
type record struct {
	content []byte
	delim   byte
	pad     int
}

// encryptRecords is a reference encryptor for the tests: RFC 8291 with a
// chosen sender key, salt and record size, and records laid out exactly as
// given (so tests can also build malformed messages). It is checked against
// the Appendix A body before being used to build multi-record messages.
func encryptRecords(t *testing.T, ua *ecdh.PublicKey, as *ecdh.PrivateKey, auth, salt []byte, rs uint32, recs []record) []byte {
	t.Helper()
	secret, err := as.ECDH(ua)
	if err != nil {
		t.Fatal(err)
	}
	asPub := as.PublicKey().Bytes()
	ikm, _ := hkdf.Key(sha256.New, secret, auth, "WebPush: info\x00"+string(ua.Bytes())+string(asPub), 32)
	cek, _ := hkdf.Key(sha256.New, ikm, salt, "Content-Encoding: aes128gcm\x00", 16)
	baseNonce, _ := hkdf.Key(sha256.New, ikm, salt, "Content-Encoding: nonce\x00", 12)
	block, _ := aes.NewCipher(cek)
	aead, _ := cipher.NewGCM(block)

	out := append([]byte{}, salt...)
	out = binary.BigEndian.AppendUint32(out, rs)
	out = append(out, byte(len(asPub)))
	out = append(out, asPub...)
	for seq, r := range recs {
		plain := append(append([]byte{}, r.content...), r.delim)
		plain = append(plain, make([]byte, r.pad)...)
		nonce := append([]byte{}, baseNonce...)
		for i := range 8 {
			nonce[4+i] ^= byte(uint64(seq) >> (56 - 8*i))
		}
		out = aead.Seal(out, nonce, plain, nil)
	}
	return out
}

// encrypt splits plaintext into well-formed records: every record but the
// last filled to rs with delimiter 0x01, the last one short with 0x02.
func encrypt(t *testing.T, plaintext []byte, ua *ecdh.PublicKey, as *ecdh.PrivateKey, auth, salt []byte, rs uint32) []byte {
	t.Helper()
	per := int(rs) - 17
	var recs []record
	for len(plaintext) > per {
		recs = append(recs, record{content: plaintext[:per], delim: 0x01})
		plaintext = plaintext[per:]
	}
	recs = append(recs, record{content: plaintext, delim: 0x02})
	return encryptRecords(t, ua, as, auth, salt, rs, recs)
}

func TestReferenceEncryptorReproducesAppendixA(t *testing.T) {
	ua, as, auth := vectorKeys(t)
	got := encrypt(t, []byte(vecPlaintext), ua.PublicKey(), as, auth, b64(t, vecSalt), 4096)
	if want := b64(t, vecBody); !bytes.Equal(got, want) {
		t.Fatalf("reference encryptor output differs from Appendix A:\n got %x\nwant %x", got, want)
	}
}

func TestDecryptMultipleRecords(t *testing.T) {
	ua, as, auth := vectorKeys(t)
	plaintext := []byte(strings.Repeat("0123456789abcdef", 20)) // 320 bytes
	salt := bytes.Repeat([]byte{0x5a}, 16)
	const rs = 64 // 47 bytes of content + delimiter per full record
	body := encrypt(t, plaintext, ua.PublicKey(), as, auth, salt, rs)

	got, err := Decrypt(body, ua, auth)
	if err != nil {
		t.Fatalf("Decrypt: %v", err)
	}
	if !bytes.Equal(got, plaintext) {
		t.Fatalf("Decrypt = %q, want %q", got, plaintext)
	}

	// Dropping the final record must be noticed: the new last record ends
	// in 0x01, the delimiter of a record that is not the last.
	records := len(body) - 86
	lastLen := records % rs
	if lastLen == 0 {
		lastLen = rs
	}
	if _, err := Decrypt(body[:len(body)-lastLen], ua, auth); err == nil {
		t.Fatal("Decrypt accepted a message with its last record cut off")
	}

	// Reordering records must fail too: each record's nonce carries its
	// sequence number.
	swapped := append([]byte{}, body...)
	copy(swapped[86:86+rs], body[86+rs:86+2*rs])
	copy(swapped[86+rs:86+2*rs], body[86:86+rs])
	if _, err := Decrypt(swapped, ua, auth); err == nil {
		t.Fatal("Decrypt accepted records out of order")
	}
}

func TestDecryptChecksDelimiters(t *testing.T) {
	ua, as, auth := vectorKeys(t)
	salt := bytes.Repeat([]byte{1}, 16)
	const rs = 40
	full := func(content string, delim byte) record {
		return record{content: []byte(content), delim: delim, pad: rs - 17 - len(content)}
	}
	tests := []struct {
		name string
		recs []record
		ok   bool // whether the message is well formed
		want string
	}{
		{name: "two records", recs: []record{full("abc", 0x01), {content: []byte("def"), delim: 0x02, pad: 5}}, ok: true, want: "abcdef"},
		{name: "full last record", recs: []record{full("abc", 0x01), full("def", 0x02)}, ok: true, want: "abcdef"},
		{name: "empty message", recs: []record{{delim: 0x02}}, ok: true},
		{name: "data after the last record", recs: []record{full("abc", 0x02), {content: []byte("def"), delim: 0x02}}},
		{name: "last record says more follows", recs: []record{full("abc", 0x01), {content: []byte("def"), delim: 0x01}}},
		{name: "no delimiter", recs: []record{{content: []byte("abc\x00"), delim: 0x00, pad: 3}}},
		{name: "other delimiter", recs: []record{{content: []byte("abc"), delim: 0x03}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := encryptRecords(t, ua.PublicKey(), as, auth, salt, rs, tc.recs)
			got, err := Decrypt(body, ua, auth)
			if tc.ok {
				if err != nil || string(got) != tc.want {
					t.Fatalf("Decrypt = %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Decrypt accepted a malformed message and returned %q", got)
			}
		})
	}
}
