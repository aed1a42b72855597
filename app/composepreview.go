package app

import (
	"strconv"
	"strings"
	"time"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

	"pushstart/push"
)

// notificationPreview draws n roughly as a desktop browser shows it: the
// site's origin, icon, title, body, image and action buttons. Images are
// shown only from this site's own paths: the console loads nothing from
// elsewhere, and says so for the URLs it does not load.
func notificationPreview(n push.Notification, origin string) goapp.UI {
	icon, iconLocal := previewImage(n.Icon)
	badge, badgeLocal := previewImage(n.Badge)
	image, imageLocal := previewImage(n.Image)
	title := n.Title
	if strings.TrimSpace(title) == "" {
		title = "(no title)"
	}
	var external []string
	for _, u := range []struct{ what, url string }{{"icon", n.Icon}, {"badge", n.Badge}, {"image", n.Image}} {
		if _, local := previewImage(u.url); u.url != "" && !local {
			external = append(external, u.what+" "+u.url)
		}
	}
	dir := n.Dir
	if dir == "" {
		dir = "auto"
	}
	return goapp.Div().
		Class("notification-preview").
		Role("group").
		Aria("labelledby", "preview-heading").
		Body(
			goapp.Div().Class("preview-head").Body(
				goapp.If(badgeLocal, func() goapp.UI {
					return goapp.Img().Class("preview-badge").Src(badge).Alt("badge")
				}),
				goapp.Span().Class("preview-origin").Text(origin),
				goapp.Span().Class("preview-time").Text(previewTime(n.Timestamp)),
			),
			goapp.Div().Class("preview-main").Body(
				goapp.Div().
					Class("preview-text").
					Lang(n.Lang).
					Dir(dir).
					Body(
						goapp.Strong().Class("preview-title").Text(title),
						goapp.P().Class("preview-body").Text(n.Body),
					),
				goapp.If(iconLocal, func() goapp.UI {
					return goapp.Img().Class("preview-icon").Src(icon).Alt("icon")
				}),
			),
			goapp.If(imageLocal, func() goapp.UI {
				return goapp.Img().Class("preview-image").Src(image).Alt("image")
			}),
			goapp.If(len(n.Actions) > 0, func() goapp.UI {
				return goapp.Div().Class("preview-actions").Body(
					goapp.Range(n.Actions).Slice(func(i int) goapp.UI {
						a := n.Actions[i]
						return goapp.Button().
							Type("button").
							TabIndex(-1).
							Aria("disabled", "true").
							Title("action " + a.Action).
							Text(a.Title)
					}),
				)
			}),
			goapp.If(len(previewFlags(n)) > 0, func() goapp.UI {
				flags := previewFlags(n)
				return goapp.Ul().Class("preview-flags").Body(
					goapp.Range(flags).Slice(func(i int) goapp.UI { return goapp.Li().Text(flags[i]) }),
				)
			}),
			goapp.If(len(external) > 0, func() goapp.UI {
				return goapp.P().Class("preview-external").Text(
					"Not loaded in the preview (not on this site): " + strings.Join(external, ", "))
			}),
		)
}

// previewImage is the src the preview shows an image URL with: only a path
// on this site.
func previewImage(u string) (src string, ok bool) {
	if u == "" || !push.IsSameOriginPath(u) {
		return "", false
	}
	return u, true
}

// previewTime is when the notification says it happened.
func previewTime(ms int64) string {
	if ms <= 0 {
		return "now"
	}
	return time.UnixMilli(ms).Local().Format("2 Jan 15:04")
}

// previewFlags are the options the preview cannot draw, in words.
func previewFlags(n push.Notification) []string {
	var flags []string
	if n.Tag != "" {
		what := "Replaces an earlier notification tagged " + strconv.Quote(n.Tag)
		if n.Renotify {
			what += ", and alerts again"
		}
		flags = append(flags, what)
	}
	if n.RequireInteraction {
		flags = append(flags, "Stays until clicked or dismissed")
	}
	if n.Silent {
		flags = append(flags, "Silent: no sound or vibration")
	} else if len(n.Vibrate) > 0 {
		ms := make([]string, len(n.Vibrate))
		for i, v := range n.Vibrate {
			ms[i] = strconv.Itoa(v)
		}
		flags = append(flags, "Vibrates "+strings.Join(ms, ", ")+" ms")
	}
	return flags
}
