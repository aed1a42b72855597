package app

import "slices"

// topic is an interest the page offers: Tag is what the server stores with
// the subscription and what a broadcast's "to": {"tags": [...]} names;
// Label is what the user reads.
type topic struct {
	Tag   string
	Label string
}

// offeredTopics are the page's topics, in the order shown.
// To offer another, add a line here; its tag must pass push.CheckTags.
func offeredTopics() []topic {
	return []topic{
		{Tag: "news", Label: tr("News")},
		{Tag: "reminders", Label: tr("Reminders")},
	}
}

// withTopic is tags with tag added (on) or removed (off), sorted as the
// server stores them. Tags the page does not offer (set through the API) are
// kept: the page sends the full list, which replaces the stored one. The
// result is never nil, so that no topics at all is sent as [] (clear), not
// left out (keep).
func withTopic(tags []string, tag string, on bool) []string {
	out := make([]string, 0, len(tags)+1)
	for _, t := range tags {
		if t != tag {
			out = append(out, t)
		}
	}
	if on {
		out = append(out, tag)
	}
	slices.Sort(out)
	return out
}
