package app

import (
	"regexp"
	"strings"
	"testing"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

	"pushstart/api"
)

// TestHomePageInFrench: a browser that prefers French gets the home page,
// and the steps of its flows, in French, with none of the English left.
func TestHomePageInFrench(t *testing.T) {
	t.Cleanup(func() { chooseLanguage(nil) })
	if got := chooseLanguage([]string{"fr-FR", "en-US"}); got != "fr" {
		t.Fatalf("chooseLanguage(fr-FR, en-US) = %q", got)
	}
	e := newFlowEnv(t, newFakeBrowser(PermissionDefault), keyA)
	if err := e.load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := e.enable(t.Context()); err != nil {
		t.Fatal(err)
	}
	s := e.ui.now()
	s.FlowKnown, s.Flow = true, api.FlowInfo{Local: true, Breaks: []string{api.BreakWrongKey}}
	render := func() string { return goapp.HTMLString(&home{state: s}) }

	html := render()
	for _, want := range []string{
		">Activer les notifications<", ">Désactiver les notifications<",
		">Notification de test<", `value="Bonjour de la part de pushstart"`, ">Envoyer une notification de test<",
		">Sujets<", ">Actualités<", ">Abonnement<",
		">Provoquer une panne<", ">Mauvaise clé VAPID (403)<",
		">Flux<", "Ralenti", ">Serveur du kit<", `aria-label="Diagramme de séquence du flux push"`,
		">Clé publique VAPID récupérée<", ">Autorisation\u202f: accordée<",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("the French page lacks %s", want)
		}
	}
	english := []string{
		">Enable notifications<", ">Disable notifications<",
		">Test notification<", "Hello from pushstart", ">Send test notification<",
		">Topics<", ">News<", ">Subscription<",
		">Break it<", ">Wrong VAPID key (403)<",
		">Flow<", "Slow motion", ">Kit server<", "Sequence diagram",
		">VAPID public key fetched<", "Admin console",
	}
	for _, en := range english {
		if strings.Contains(html, en) {
			t.Errorf("the French page still says %s", en)
		}
	}

	chooseLanguage(nil)
	html = render()
	for _, en := range english[:5] {
		if !strings.Contains(html, en) {
			t.Errorf("back in English, the page lacks %s", en)
		}
	}
}

// TestFrenchTypography: French puts a space before : ; ? ! and inside « ».
// A plain one lets the browser break the line there and start the next with
// the mark alone; the French texts use a narrow no-break space (U+202F)
// throughout, never a plain one, nor now and then a wide U+00A0.
func TestFrenchTypography(t *testing.T) {
	breakable := regexp.MustCompile(`[ \t\x{00A0}][:;?!»]|«[ \t\x{00A0}]`)
	for en, fr := range languages["fr"].Texts {
		if m := breakable.FindString(fr); m != "" {
			t.Errorf("%q: the French %q has %q, want U+202F", en, fr, m)
		}
	}
}
