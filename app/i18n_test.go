package app

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// pageTexts parses the package's non-test files and returns the English
// texts given to tr and trf, with where each is used. A call whose text is
// not a string literal, or that runs at package level (before the language
// is chosen), is an error.
func pageTexts(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	texts := map[string]string{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") || name == "i18n.go" {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			_, inFunc := decl.(*ast.FuncDecl)
			ast.Inspect(decl, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				id, ok := call.Fun.(*ast.Ident)
				if !ok || (id.Name != "tr" && id.Name != "trf") || len(call.Args) == 0 {
					return true
				}
				pos := fset.Position(call.Pos()).String()
				if !inFunc {
					t.Errorf("%s: %s at package level runs before the page's language is chosen", pos, id.Name)
				}
				lit, ok := call.Args[0].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Errorf("%s: %s needs a string literal, which TestTranslations can find", pos, id.Name)
					return true
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				texts[s] = pos
				return true
			})
		}
	}
	return texts
}

var verb = regexp.MustCompile(`%(?:\[\d+\])?[-+# 0]*\d*(?:\.\d+)?[a-zA-Z%]`)

// verbs lists the formatting verbs of s, without argument indexes, sorted.
func verbs(s string) []string {
	var v []string
	for _, m := range verb.FindAllString(s, -1) {
		v = append(v, regexp.MustCompile(`\[\d+\]`).ReplaceAllString(m, ""))
	}
	slices.Sort(v)
	return v
}

// TestTranslations: every language has every text the page uses, with the
// same formatting verbs, and no text the page no longer uses.
func TestTranslations(t *testing.T) {
	texts := pageTexts(t)
	if len(texts) < 50 {
		t.Fatalf("found only %d texts inside tr and trf; the page's texts are not marked", len(texts))
	}
	for _, tag := range languageTags()[1:] {
		l := languages[tag]
		for en, pos := range texts {
			tx, ok := l.Texts[en]
			switch {
			case !ok || strings.TrimSpace(tx) == "":
				t.Errorf("%s: no text for %q (%s)", tag, en, pos)
			case !slices.Equal(verbs(en), verbs(tx)):
				t.Errorf("%s: %q has the verbs %v, its translation %q has %v", tag, en, verbs(en), tx, verbs(tx))
			}
		}
		for en := range l.Texts {
			if _, ok := texts[en]; !ok {
				t.Errorf("%s: %q is no longer a text of the page", tag, en)
			}
		}
	}
}

func TestChooseLanguage(t *testing.T) {
	t.Cleanup(func() { chooseLanguage(nil) })
	for _, c := range []struct {
		prefs []string
		want  string
	}{
		{nil, "en"},
		{[]string{"fr-FR", "en-US"}, "fr"},
		{[]string{"FR"}, "fr"},
		{[]string{"en-GB", "fr"}, "en"},
		{[]string{"de-DE", "fr-CA", "en"}, "fr"},
		{[]string{"de", "ja"}, "en"},
	} {
		if got := chooseLanguage(c.prefs); got != c.want {
			t.Errorf("chooseLanguage(%q) = %q, want %q", c.prefs, got, c.want)
		}
	}
	chooseLanguage([]string{"fr"})
	if got := tr("Web Push notifications, one visible step at a time."); !strings.HasPrefix(got, "Les notifications") {
		t.Errorf("in French, the tagline is %q", got)
	}
	if got := tr("a text nobody translated"); got != "a text nobody translated" {
		t.Errorf("a text with no translation reads %q, want the English", got)
	}
	chooseLanguage(nil)
	if got := tr("Web Push notifications, one visible step at a time."); got != "Web Push notifications, one visible step at a time." {
		t.Errorf("in English, the tagline is %q", got)
	}
}
