package auth

import "strings"

// MaxSecretBytes bounds the secret ParseBearer accepts.
const MaxSecretBytes = 4096

// ParseBearer returns the secret of an "Authorization: Bearer <secret>"
// header value. The scheme is matched in any case (RFC 6750) and may be
// followed by several spaces. The secret is the rest of the value, without
// surrounding spaces, as go-nsq sends its auth_secret; it must be 1 to
// MaxSecretBytes bytes with no control character (a tab or a newline
// included). Anything else, an empty header included, is !ok.
func ParseBearer(header string) (secret string, ok bool) {
	const scheme = "Bearer"
	if len(header) <= len(scheme) || !strings.EqualFold(header[:len(scheme)], scheme) || header[len(scheme)] != ' ' {
		return "", false
	}
	secret = strings.Trim(header[len(scheme):], " ")
	if secret == "" || len(secret) > MaxSecretBytes {
		return "", false
	}
	for i := 0; i < len(secret); i++ {
		if c := secret[i]; c < 0x20 || c == 0x7f {
			return "", false
		}
	}
	return secret, true
}
