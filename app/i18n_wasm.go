//go:build wasm

package app

import "syscall/js"

// browserLanguages returns navigator.languages, or navigator.language alone
// where the list is missing.
func browserLanguages() []string {
	nav := js.Global().Get("navigator")
	var prefs []string
	if l := nav.Get("languages"); l.Type() == js.TypeObject {
		for i := range l.Length() {
			prefs = append(prefs, l.Index(i).String())
		}
	}
	if len(prefs) == 0 {
		if l := nav.Get("language"); l.Type() == js.TypeString {
			prefs = append(prefs, l.String())
		}
	}
	return prefs
}

// setDocumentLanguage sets <html lang>, so that screen readers and the
// browser's translation offer know the page's language.
func setDocumentLanguage(tag string) {
	js.Global().Get("document").Get("documentElement").Set("lang", tag)
}
