//go:build !wasm

package server

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
)

// decodeJSON reads one JSON object of at most limit bytes into v, refusing
// other content types, unknown fields and trailing data. A refused member is
// named by its path from the top of the body, as the API's other errors name
// fields: keys.foo, notification.actions[0].title.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return &apiError{Status: http.StatusUnsupportedMediaType, Message: "Content-Type must be application/json"}
		}
	} else {
		return &apiError{Status: http.StatusUnsupportedMediaType, Message: "Content-Type must be application/json"}
	}
	// What the decoder read is kept, to name a refused member by its path.
	var body bytes.Buffer
	dec := json.NewDecoder(io.TeeReader(http.MaxBytesReader(w, r.Body, limit), &body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if dec.Decode(&struct{}{}) != io.EOF {
			return badField("", "request body must hold one JSON object")
		}
		return nil
	}
	var maxErr *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &maxErr):
		return &apiError{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("request body is larger than %d bytes", limit)}
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return badField("", "request body must be a JSON object")
		}
		// typeErr.Field has no array indexes ("notification.actions.title").
		field := typeErr.Field
		if m, ok := firstBadMember(body.Bytes(), v); ok && !m.unknown && lastName(m.goPath) == lastName(typeErr.Field) {
			field = m.path
		}
		kind := jsonKind(typeErr.Type)
		if kind == "number" && strings.HasPrefix(typeErr.Value, "number") {
			// A number was sent: a fraction, an exponent or too large for
			// an integer field. "Must be a JSON number" would not help.
			return badField(field, fmt.Sprintf("%s must be a JSON integer in range", field))
		}
		return badField(field, fmt.Sprintf("%s must be a JSON %s", field, kind))
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return badField("", "request body is not valid JSON")
	case errors.Is(err, io.EOF):
		return badField("", "request body is empty")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// The error names the key alone: "foo" for keys.foo.
		quoted := strings.TrimPrefix(err.Error(), "json: unknown field ")
		name, uerr := strconv.Unquote(quoted)
		if uerr != nil {
			name = strings.Trim(quoted, `"`)
		}
		field := name
		if m, ok := firstBadMember(body.Bytes(), v); ok && m.unknown && m.key == name {
			field = m.path
		}
		return badField(field, "unknown field "+field)
	default:
		return badField("", "request body is not valid JSON")
	}
}

// badMember is the member of a request body that decodeJSON refuses.
type badMember struct {
	path    string // in the API's notation: keys.auth, notification.actions[0].title
	goPath  string // the struct fields on the way, which json.UnmarshalTypeError.Field names
	key     string // the member's key, when the type has no field for it
	unknown bool
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// firstBadMember walks body, which encoding/json refused to decode into v,
// against v's type the way encoding/json matches members to fields (json
// tags, keys matched without regard to case, promoted fields of embedded
// structs), and returns the first member, in the body's order, that has no
// field or does not decode into its field's type. The decoder reports the
// first such member too, but names an unknown one by its key alone and
// leaves array indexes out of a wrong type's path.
func firstBadMember(body []byte, v any) (badMember, bool) {
	var raw json.RawMessage
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&raw); err != nil {
		return badMember{}, false
	}
	return walkValue(raw, reflect.TypeOf(v), "", "")
}

func walkValue(raw []byte, t reflect.Type, path, goPath string) (badMember, bool) {
	if string(raw) == "null" {
		return badMember{}, false // null leaves any field as it was
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	bad := badMember{path: path, goPath: goPath}
	pt := reflect.PointerTo(t)
	if pt.Implements(jsonUnmarshaler) || pt.Implements(textUnmarshaler) {
		// Its own decoding decides; json.RawMessage takes any value.
		return bad, json.Unmarshal(raw, reflect.New(t).Interface()) != nil
	}
	switch {
	case t.Kind() == reflect.Struct:
		if raw[0] != '{' {
			return bad, true
		}
		fields := jsonFields(t, map[reflect.Type]bool{})
		return eachValue(raw, func(key string, _ int, v []byte) (badMember, bool) {
			f, ok := fieldFor(fields, key)
			if !ok {
				return badMember{path: joinPath(path, key), key: key, unknown: true}, true
			}
			if f.quoted {
				return badMember{}, false // ",string": a JSON string holding the value
			}
			return walkValue(v, f.typ, joinPath(path, f.name), joinPath(goPath, f.name))
		})
	case t.Kind() == reflect.Map:
		if raw[0] != '{' {
			return bad, true
		}
		return eachValue(raw, func(key string, _ int, v []byte) (badMember, bool) {
			return walkValue(v, t.Elem(), joinPath(path, key), goPath)
		})
	case t.Kind() == reflect.Array, t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8:
		// A []byte is a base64 string, decoded below.
		if raw[0] != '[' {
			return bad, true
		}
		return eachValue(raw, func(_ string, i int, v []byte) (badMember, bool) {
			return walkValue(v, t.Elem(), fmt.Sprintf("%s[%d]", path, i), goPath)
		})
	}
	return bad, json.Unmarshal(raw, reflect.New(t).Interface()) != nil
}

// eachValue calls f with every member of the JSON object raw (its key, and
// its index counting from 0) or every element of the JSON array raw (its
// index), in order, until f reports a bad member.
func eachValue(raw []byte, f func(key string, i int, v []byte) (badMember, bool)) (badMember, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	open, err := dec.Token()
	if err != nil {
		return badMember{}, false
	}
	for i := 0; dec.More(); i++ {
		var key string
		if open == json.Delim('{') {
			tok, err := dec.Token()
			if err != nil {
				return badMember{}, false
			}
			key, _ = tok.(string)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return badMember{}, false
		}
		if m, bad := f(key, i, v); bad {
			return m, true
		}
	}
	return badMember{}, false
}

// jsonField is a struct field as encoding/json sees it.
type jsonField struct {
	name   string
	typ    reflect.Type
	quoted bool // the ",string" option
}

// jsonFields lists the fields of struct type t under their JSON names, as
// encoding/json does: "-" left out, untagged fields under their Go name, and
// the fields of an untagged embedded struct promoted after t's own, so that
// t's own come first when a name is on both.
func jsonFields(t reflect.Type, seen map[reflect.Type]bool) []jsonField {
	if seen[t] {
		return nil // embedded in itself through a pointer
	}
	seen[t] = true
	var own, promoted []jsonField
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := sf.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if sf.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			promoted = append(promoted, jsonFields(ft, seen)...)
			continue
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		quoted := false
		for opt := range strings.SplitSeq(opts, ",") {
			quoted = quoted || opt == "string"
		}
		own = append(own, jsonField{name: name, typ: sf.Type, quoted: quoted})
	}
	return append(own, promoted...)
}

// fieldFor finds the field a member's key fills: the one of that exact name,
// else one whose name differs only in case.
func fieldFor(fields []jsonField, key string) (jsonField, bool) {
	for _, f := range fields {
		if f.name == key {
			return f, true
		}
	}
	for _, f := range fields {
		if strings.EqualFold(f.name, key) {
			return f, true
		}
	}
	return jsonField{}, false
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// lastName is the last dot-separated name of path.
func lastName(path string) string {
	return path[strings.LastIndex(path, ".")+1:]
}

// jsonKind names the JSON type a Go type decodes from, for error messages
// that speak of the request rather than of the server's code.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	default:
		return "object"
	}
}
