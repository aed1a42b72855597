//go:build !wasm

package app

// browserLanguages is empty outside the browser: the server renders the
// page in English, and the browser renders it again in its language.
func browserLanguages() []string { return nil }

func setDocumentLanguage(string) {}
