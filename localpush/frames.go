package localpush

import (
	"bytes"
	"encoding/json"
	"fmt"

	"pushstart/localpush/gcm"
	"pushstart/push"
)

// The frames of deliver and ack events (Event.Frame): each protocol's
// message as it went to or came from the browser, indented, with the
// encrypted body shortened, since the page shows it to a learner.

// shortPrefix is how much of an encrypted body a frame shows.
const shortPrefix = 16

// shorten shows the start of b64, a base64url body, and its length in
// unit (its characters, or the bytes it encodes).
func shorten(b64 string, n int, unit string) string {
	if len(b64) <= shortPrefix {
		return fmt.Sprintf("%s (%d %s)", b64, n, unit)
	}
	return fmt.Sprintf("%s… (%d %s)", b64[:shortPrefix], n, unit)
}

// indentJSON marshals v indented, as frames are shown.
func indentJSON(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return ""
	}
	return string(b)
}

// mozFrame is a Mozilla message as written, with its data shortened: the
// same keys in the same order as on the wire.
func mozFrame(msg map[string]any) string {
	shown := make(map[string]any, len(msg))
	for k, v := range msg {
		shown[k] = v
	}
	if d, ok := shown["data"].(string); ok {
		shown["data"] = shorten(d, len(d), "characters")
	}
	return indentJSON(shown)
}

// mozReceivedFrame is a Mozilla message as Firefox sent it, indented.
func mozReceivedFrame(data []byte) string {
	var b bytes.Buffer
	if json.Indent(&b, data, "", "  ") != nil {
		return ""
	}
	return b.String()
}

// mcsAppData is one app_data entry of a DataMessageStanza.
type mcsAppData struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// mcsStanzaFrame is the part of a DataMessageStanza that matters, in field
// order, under the names of mcs.proto.
type mcsStanzaFrame struct {
	Tag                  int          `json:"tag"`
	Message              string       `json:"message"`
	ID                   string       `json:"id"`
	From                 string       `json:"from"`
	Category             string       `json:"category"`
	AppData              []mcsAppData `json:"app_data"`
	PersistentID         string       `json:"persistent_id"`
	StreamID             int32        `json:"stream_id"`
	LastStreamIDReceived int32        `json:"last_stream_id_received"`
	TTL                  int32        `json:"ttl"`
	Sent                 int64        `json:"sent"`
	RawData              string       `json:"raw_data"`
	ImmediateAck         bool         `json:"immediate_ack"`
}

// mcsFrame shows a DataMessageStanza as package gcm writes it.
func mcsFrame(st gcm.Stanza) string {
	f := mcsStanzaFrame{
		Tag: 8, Message: "DataMessageStanza", ID: st.ID, From: st.From, Category: st.Category,
		PersistentID: st.PersistentID, StreamID: st.StreamID, LastStreamIDReceived: st.LastStreamIDReceived,
		TTL: st.TTL, Sent: st.Sent, ImmediateAck: st.ImmediateAck,
		RawData: shorten(push.EncodeBase64URL(st.RawData), len(st.RawData), "bytes"),
	}
	for _, a := range st.AppData {
		f.AppData = append(f.AppData, mcsAppData{Key: a[0], Value: a[1]})
	}
	return indentJSON(f)
}

// mcsAckFrame shows how Chromium acknowledged one message.
type mcsAckFrame struct {
	Tag                  byte   `json:"tag"`
	Message              string `json:"message"`
	LastStreamIDReceived int32  `json:"last_stream_id_received,omitempty"`
	PersistentID         string `json:"persistent_id"`
	StreamID             int32  `json:"stream_id,omitempty"` // the stream id the message was sent with
}

// mcsAck is the frame and the detail of the ack event of message i of a.
func mcsAck(a gcm.Ack, i int) (frame, detail string) {
	f := mcsAckFrame{Tag: a.Tag, Message: a.Frame, LastStreamIDReceived: a.LastStreamIDReceived,
		PersistentID: a.PersistentIDs[i], StreamID: a.StreamIDs[i]}
	switch {
	case a.Frame == "LoginRequest":
		detail = "received: named in the next LoginRequest's received_persistent_id"
	case a.LastStreamIDReceived > 0:
		detail = fmt.Sprintf("received: %s with last_stream_id_received %d covers stream id %d",
			a.Frame, a.LastStreamIDReceived, a.StreamIDs[i])
	default:
		detail = "received: " + a.Frame + " names it"
	}
	return indentJSON(f), detail
}
