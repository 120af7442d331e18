package command

import (
	"html"
	"net/url"
	"regexp"
	"strings"
)

// maxFormattedBytes bounds the formatted body ResolvePills reads.
const maxFormattedBytes = 4 * MaxBodyBytes

var (
	pillRE = regexp.MustCompile(`(?is)<a\s[^>]*?href\s*=\s*["']https://matrix\.to/#/([^"'?/]+)(?:\?[^"']*)?["'][^>]*>(.*?)</a\s*>`)
	tagRE  = regexp.MustCompile(`(?s)<[^>]*>`)
)

// ResolvePills returns body with the mentions (Element's pills) of users
// and rooms replaced by their Matrix IDs, for Parse. A pill shows a name in
// the plain body ("Max Mustermann") and carries the ID only in the HTML
// formatted body (<a href="https://matrix.to/#/@mmustermann:land.hessen.de">).
// Each pill's text is looked up in body after the previous one and
// replaced; the rest of body is kept as typed, with its quotes and
// escapes, which the formatted body may have rendered away. Without pills,
// or with a formatted body over 16 KiB, body is returned as it is.
func ResolvePills(body, formattedBody string) string {
	if len(formattedBody) > maxFormattedBytes || !strings.Contains(formattedBody, "matrix.to") {
		return body
	}
	at := 0
	for _, m := range pillRE.FindAllStringSubmatch(formattedBody, MaxTokens) {
		id, err := url.PathUnescape(m[1])
		if err != nil || !(isUserID(id) || (strings.HasPrefix(id, "#") && isAlias(id)) || (strings.HasPrefix(id, "!") && isRoomID(id))) {
			continue
		}
		text := strings.TrimSpace(html.UnescapeString(tagRE.ReplaceAllString(m[2], "")))
		if text == "" {
			continue
		}
		i := strings.Index(body[at:], text)
		if i < 0 {
			continue
		}
		i += at
		body = body[:i] + id + body[i+len(text):]
		at = i + len(id)
	}
	return body
}
