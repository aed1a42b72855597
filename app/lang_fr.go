package app

// French. To add a language, copy this file to lang_<tag>.go, change Tag and
// Name, and translate each text; TestTranslations lists any text missing.
func init() {
	registerLanguage(&language{
		Tag:  "fr",
		Name: "Français",
		Texts: map[string]string{
			"Web Push notifications, one visible step at a time.": "Les notifications Web Push, une étape visible à la fois.",
		},
	})
}
