package gcm

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// MCS message tags: the byte in front of every frame on the MCS stream names
// the protobuf message that follows (mcs.proto's "TAG:" comments).
const (
	tagHeartbeatPing     byte = 0
	tagHeartbeatAck      byte = 1
	tagLoginRequest      byte = 2
	tagLoginResponse     byte = 3
	tagClose             byte = 4
	tagIqStanza          byte = 7
	tagDataMessageStanza byte = 8
	tagStreamErrorStanza byte = 10
)

// Extension ids carried in an IqStanza.
const (
	extSelectiveAck = 12
	extStreamAck    = 13
)

// iqSet is IqStanza.IqType SET, the type of every acknowledgement.
const iqSet = 1

// field is one decoded protobuf field: u holds varint and fixed values, b the
// bytes of a length-delimited one.
type field struct {
	num protowire.Number
	typ protowire.Type
	u   uint64
	b   []byte
}

// parseFields splits a protobuf message into its fields, in wire order.
// Groups (long deprecated) are skipped whole.
func parseFields(b []byte) ([]field, error) {
	var out []field
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		f := field{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			f.u, n = protowire.ConsumeVarint(b)
		case protowire.Fixed64Type:
			f.u, n = protowire.ConsumeFixed64(b)
		case protowire.Fixed32Type:
			var v uint32
			v, n = protowire.ConsumeFixed32(b)
			f.u = uint64(v)
		case protowire.BytesType:
			f.b, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		out = append(out, f)
	}
	return out, nil
}

// decoder reads typed values out of fields, remembering the first field whose
// wire type does not match what the schema says.
type decoder struct {
	msg string
	err error
}

func (d *decoder) want(f field, t protowire.Type) bool {
	if f.typ == t {
		return true
	}
	if d.err == nil {
		d.err = fmt.Errorf("%s: field %d has wire type %d, want %d", d.msg, f.num, f.typ, t)
	}
	return false
}

func (d *decoder) str(f field) string {
	if !d.want(f, protowire.BytesType) {
		return ""
	}
	return string(f.b)
}

func (d *decoder) bytes(f field) []byte {
	if !d.want(f, protowire.BytesType) {
		return nil
	}
	return append([]byte(nil), f.b...)
}

func (d *decoder) varint(f field) uint64 {
	if !d.want(f, protowire.VarintType) {
		return 0
	}
	return f.u
}

func (d *decoder) int32(f field) int32 { return int32(d.varint(f)) }

func (d *decoder) fixed64(f field) uint64 {
	if !d.want(f, protowire.Fixed64Type) {
		return 0
	}
	return f.u
}

// parse runs fn over the fields of b, naming msg in any error.
func parse(msg string, b []byte, fn func(d *decoder, f field)) error {
	fs, err := parseFields(b)
	if err != nil {
		return fmt.Errorf("%s: %w", msg, err)
	}
	d := &decoder{msg: msg}
	for _, f := range fs {
		fn(d, f)
	}
	return d.err
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendBytes(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// appendInt encodes a signed int32/int64 field the way protobuf does:
// negative numbers sign-extended to ten bytes.
func appendInt(b []byte, num protowire.Number, v int64) []byte {
	return appendVarint(b, num, uint64(v))
}

func appendBool(b []byte, num protowire.Number, v bool) []byte {
	return appendVarint(b, num, protowire.EncodeBool(v))
}

func appendFixed64(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, v)
}

// checkinRequest holds what the emulation reads of checkin.proto's
// AndroidCheckinRequest: the credentials of an earlier check-in, if any.
type checkinRequest struct {
	ID            uint64 // field 2, int64
	SecurityToken uint64 // field 13, fixed64
}

func parseCheckinRequest(b []byte) (checkinRequest, error) {
	var m checkinRequest
	err := parse("AndroidCheckinRequest", b, func(d *decoder, f field) {
		switch f.num {
		case 2:
			m.ID = d.varint(f)
		case 13:
			m.SecurityToken = d.fixed64(f)
		}
	})
	return m, err
}

// checkinResponse is checkin.proto's AndroidCheckinResponse, reduced to the
// fields Chromium's GCM client needs.
type checkinResponse struct {
	TimeMsec      int64
	AndroidID     uint64
	SecurityToken uint64
}

func (m checkinResponse) marshal() []byte {
	var b []byte
	b = appendBool(b, 1, true) // stats_ok
	b = appendInt(b, 3, m.TimeMsec)
	b = appendFixed64(b, 7, m.AndroidID)
	b = appendFixed64(b, 8, m.SecurityToken)
	// settings_diff=false: the (empty) settings list is the whole table.
	b = appendBool(b, 9, false)
	return b
}

// setting is mcs.proto's Setting, a name/value pair.
type setting struct{ Name, Value string }

// loginRequest is mcs.proto's LoginRequest (tag 2), the first message a
// client sends.
type loginRequest struct {
	ID, Domain, User, Resource, AuthToken, DeviceID string
	Settings                                        []setting
	ReceivedPersistentIDs                           []string
}

func parseLoginRequest(b []byte) (loginRequest, error) {
	var m loginRequest
	err := parse("LoginRequest", b, func(d *decoder, f field) {
		switch f.num {
		case 1:
			m.ID = d.str(f)
		case 2:
			m.Domain = d.str(f)
		case 3:
			m.User = d.str(f)
		case 4:
			m.Resource = d.str(f)
		case 5:
			m.AuthToken = d.str(f)
		case 6:
			m.DeviceID = d.str(f)
		case 8:
			var s setting
			if err := parse("Setting", d.bytes(f), func(d *decoder, f field) {
				switch f.num {
				case 1:
					s.Name = d.str(f)
				case 2:
					s.Value = d.str(f)
				}
			}); err != nil && d.err == nil {
				d.err = err
			}
			m.Settings = append(m.Settings, s)
		case 10:
			m.ReceivedPersistentIDs = append(m.ReceivedPersistentIDs, d.str(f))
		}
	})
	return m, err
}

// errorInfo is mcs.proto's ErrorInfo; a non-zero code in a LoginResponse
// makes the client drop the connection.
type errorInfo struct {
	Code    int32
	Message string
}

// loginResponse is mcs.proto's LoginResponse (tag 3).
type loginResponse struct {
	ID                   string
	Error                *errorInfo
	LastStreamIDReceived int32
	ServerTimestamp      int64 // ms since the epoch
}

func (m loginResponse) marshal() []byte {
	var b []byte
	b = appendString(b, 1, m.ID)
	if m.Error != nil {
		var e []byte
		e = appendInt(e, 1, int64(m.Error.Code))
		if m.Error.Message != "" {
			e = appendString(e, 2, m.Error.Message)
		}
		b = appendBytes(b, 3, e)
	}
	if m.LastStreamIDReceived != 0 {
		b = appendInt(b, 6, int64(m.LastStreamIDReceived))
	}
	b = appendInt(b, 8, m.ServerTimestamp)
	return b
}

// heartbeat is both mcs.proto's HeartbeatPing (tag 0) and HeartbeatAck
// (tag 1): the two messages share their fields.
type heartbeat struct {
	StreamID             int32
	LastStreamIDReceived int32
	Status               int64
}

func parseHeartbeat(b []byte) (heartbeat, error) {
	var m heartbeat
	err := parse("Heartbeat", b, func(d *decoder, f field) {
		switch f.num {
		case 1:
			m.StreamID = d.int32(f)
		case 2:
			m.LastStreamIDReceived = d.int32(f)
		case 3:
			m.Status = int64(d.varint(f))
		}
	})
	return m, err
}

func (m heartbeat) marshal() []byte {
	var b []byte
	if m.StreamID != 0 {
		b = appendInt(b, 1, int64(m.StreamID))
	}
	if m.LastStreamIDReceived != 0 {
		b = appendInt(b, 2, int64(m.LastStreamIDReceived))
	}
	if m.Status != 0 {
		b = appendInt(b, 3, m.Status)
	}
	return b
}

// extension is mcs.proto's Extension: an id (12 SelectiveAck, 13 StreamAck)
// and an embedded message.
type extension struct {
	ID   int32
	Data []byte
}

// iqStanza is mcs.proto's IqStanza (tag 7); acknowledgements travel in it.
type iqStanza struct {
	Type                 int32
	ID                   string
	Extension            *extension
	PersistentID         string
	LastStreamIDReceived int32
}

func parseIqStanza(b []byte) (iqStanza, error) {
	var m iqStanza
	err := parse("IqStanza", b, func(d *decoder, f field) {
		switch f.num {
		case 2:
			m.Type = d.int32(f)
		case 3:
			m.ID = d.str(f)
		case 7:
			var e extension
			if err := parse("Extension", d.bytes(f), func(d *decoder, f field) {
				switch f.num {
				case 1:
					e.ID = d.int32(f)
				case 2:
					e.Data = d.bytes(f)
				}
			}); err != nil && d.err == nil {
				d.err = err
			}
			m.Extension = &e
		case 8:
			m.PersistentID = d.str(f)
		case 10:
			m.LastStreamIDReceived = d.int32(f)
		}
	})
	return m, err
}

func (m iqStanza) marshal() []byte {
	var b []byte
	b = appendInt(b, 2, int64(m.Type))
	b = appendString(b, 3, m.ID)
	if m.Extension != nil {
		var e []byte
		e = appendInt(e, 1, int64(m.Extension.ID))
		e = appendBytes(e, 2, m.Extension.Data)
		b = appendBytes(b, 7, e)
	}
	if m.PersistentID != "" {
		b = appendString(b, 8, m.PersistentID)
	}
	if m.LastStreamIDReceived != 0 {
		b = appendInt(b, 10, int64(m.LastStreamIDReceived))
	}
	return b
}

// parseSelectiveAck reads mcs.proto's SelectiveAck: the persistent ids
// being acknowledged.
func parseSelectiveAck(b []byte) ([]string, error) {
	var ids []string
	err := parse("SelectiveAck", b, func(d *decoder, f field) {
		if f.num == 1 {
			ids = append(ids, d.str(f))
		}
	})
	return ids, err
}

// appData is one key/value pair of a DataMessageStanza.
type appData struct{ Key, Value string }

// dataMessage is mcs.proto's DataMessageStanza (tag 8), a push message.
type dataMessage struct {
	ID                   string // field 2
	From                 string // field 3
	To                   string // field 4
	Category             string // field 5
	Token                string // field 6, the collapse key
	AppData              []appData
	PersistentID         string // field 9
	StreamID             int32  // field 10
	LastStreamIDReceived int32  // field 11
	TTL                  int32  // field 17, seconds
	Sent                 int64  // field 18, unix seconds
	RawData              []byte // field 21
	ImmediateAck         bool   // field 24
}

func parseDataMessage(b []byte) (dataMessage, error) {
	var m dataMessage
	err := parse("DataMessageStanza", b, func(d *decoder, f field) {
		switch f.num {
		case 2:
			m.ID = d.str(f)
		case 3:
			m.From = d.str(f)
		case 4:
			m.To = d.str(f)
		case 5:
			m.Category = d.str(f)
		case 6:
			m.Token = d.str(f)
		case 7:
			var a appData
			if err := parse("AppData", d.bytes(f), func(d *decoder, f field) {
				switch f.num {
				case 1:
					a.Key = d.str(f)
				case 2:
					a.Value = d.str(f)
				}
			}); err != nil && d.err == nil {
				d.err = err
			}
			m.AppData = append(m.AppData, a)
		case 9:
			m.PersistentID = d.str(f)
		case 10:
			m.StreamID = d.int32(f)
		case 11:
			m.LastStreamIDReceived = d.int32(f)
		case 17:
			m.TTL = d.int32(f)
		case 18:
			m.Sent = int64(d.varint(f))
		case 21:
			m.RawData = d.bytes(f)
		case 24:
			m.ImmediateAck = d.varint(f) != 0
		}
	})
	return m, err
}

func (m dataMessage) marshal() []byte {
	b := make([]byte, 0, 128+len(m.RawData))
	if m.ID != "" {
		b = appendString(b, 2, m.ID)
	}
	b = appendString(b, 3, m.From)
	if m.To != "" {
		b = appendString(b, 4, m.To)
	}
	b = appendString(b, 5, m.Category)
	if m.Token != "" {
		b = appendString(b, 6, m.Token)
	}
	for _, a := range m.AppData {
		var e []byte
		e = appendString(e, 1, a.Key)
		e = appendString(e, 2, a.Value)
		b = appendBytes(b, 7, e)
	}
	if m.PersistentID != "" {
		b = appendString(b, 9, m.PersistentID)
	}
	if m.StreamID != 0 {
		b = appendInt(b, 10, int64(m.StreamID))
	}
	if m.LastStreamIDReceived != 0 {
		b = appendInt(b, 11, int64(m.LastStreamIDReceived))
	}
	b = appendInt(b, 17, int64(m.TTL))
	b = appendInt(b, 18, m.Sent)
	if m.RawData != nil {
		b = appendBytes(b, 21, m.RawData)
	}
	if m.ImmediateAck {
		b = appendBool(b, 24, true)
	}
	return b
}

// errFrameTooLarge is returned for a frame whose declared size exceeds the
// limit; the connection is dropped without reading the body.
var errFrameTooLarge = errors.New("frame too large")
