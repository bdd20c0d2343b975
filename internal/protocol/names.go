package protocol

// maxNameLength bounds topic and channel names, "#ephemeral" suffix included.
const maxNameLength = 64

const ephemeralSuffix = "#ephemeral"

// IsValidTopicName reports whether name is 1 to 64 characters of
// [.a-zA-Z0-9_-], optionally ending in "#ephemeral".
func IsValidTopicName(name string) bool {
	return isValidName(name)
}

// IsValidChannelName applies the same rules as IsValidTopicName.
func IsValidChannelName(name string) bool {
	return isValidName(name)
}

// IsEphemeral reports whether a topic or channel name carries the
// "#ephemeral" suffix.
func IsEphemeral(name string) bool {
	return len(name) >= len(ephemeralSuffix) && name[len(name)-len(ephemeralSuffix):] == ephemeralSuffix
}

func isValidName(name string) bool {
	if len(name) < 1 || len(name) > maxNameLength {
		return false
	}
	body := name
	if IsEphemeral(name) {
		body = name[:len(name)-len(ephemeralSuffix)]
	}
	// The suffix alone is not a name: at least one character must precede it.
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
