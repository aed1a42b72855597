package app

import (
	"fmt"
	"sort"
	"strings"
)

// The page speaks the browser's language when it has it, English otherwise.
// Its texts are written in English in the code, each inside tr (or trf, for
// a format); a language is one file, lang_<tag>.go, that registers the
// translation of every one of them (see registerLanguage). TestTranslations
// fails when a language misses a text the page uses, or keeps one it no
// longer does.
//
// Only the page's own words are translated: the steps the server, the push
// service and the service worker post to the Flow panel come in their own
// (English) words, as they send them.

// language is one language of the page besides English.
type language struct {
	Tag   string            // the BCP 47 primary subtag, lower case: "fr"
	Texts map[string]string // English text (or format) → this language's
}

// english is the language the page is written in.
const english = "en"

// languages holds every registered language by Tag.
var languages = map[string]*language{}

// registerLanguage adds l; each lang_<tag>.go calls it from init.
func registerLanguage(l *language) {
	if l.Tag == "" || l.Tag == english || languages[l.Tag] != nil {
		panic("app: language " + l.Tag + " registered twice or with no tag")
	}
	languages[l.Tag] = l
}

// current is the page's language; nil for English. It is chosen once, when
// the page starts (chooseLanguage), before anything is rendered.
var current *language

// chooseLanguage makes the page speak the first of prefs (the browser's
// navigator.languages, most wanted first) that it has, English when it has
// none of them, and returns the chosen tag.
func chooseLanguage(prefs []string) string {
	current = nil
	for _, p := range prefs {
		tag, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(p)), "-")
		if tag == english {
			return english
		}
		if l := languages[tag]; l != nil {
			current = l
			return tag
		}
	}
	return english
}

// tr returns the page's words for text, written in English. It must be
// called with a string literal, at run time (not in a package-level
// variable's initializer, which runs before the language is chosen).
func tr(text string) string {
	if current != nil {
		if t, ok := current.Texts[text]; ok && t != "" {
			return t
		}
	}
	return text
}

// trf formats the page's words for format, written in English, with args.
// A translation may reorder the arguments with explicit indexes (%[2]s).
func trf(format string, args ...any) string {
	return fmt.Sprintf(tr(format), args...)
}

// languageTags lists the page's languages, English first.
func languageTags() []string {
	tags := []string{english}
	for t := range languages {
		tags = append(tags, t)
	}
	sort.Strings(tags[1:])
	return tags
}
