package localnode

import "strings"

// expandVars replaces $(VAR) references as the kubelet does: a defined variable is replaced
// by its value, an undefined reference is left as written, and $$ escapes a dollar sign
// ("$$(VAR)" stays "$(VAR)").
func expandVars(s string, lookup func(string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				// Unterminated: kept literally, like the kubelet.
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := lookup(name); ok && name != "" {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// pathMap translates container paths into host paths (see the package documentation).
type pathMap []pathMapping

type pathMapping struct{ container, host string }

// add records a translation; longer container paths win over their parents.
func (m *pathMap) add(container, host string) {
	container = strings.TrimRight(container, "/")
	if container == "" {
		return
	}
	*m = append(*m, pathMapping{container, host})
	for i := len(*m) - 1; i > 0 && len((*m)[i].container) > len((*m)[i-1].container); i-- {
		(*m)[i], (*m)[i-1] = (*m)[i-1], (*m)[i]
	}
}

// translate rewrites s when it is a container path or lies under one.
func (m pathMap) translate(s string) string {
	for _, p := range m {
		if s == p.container {
			return p.host
		}
		if strings.HasPrefix(s, p.container+"/") {
			return p.host + s[len(p.container):]
		}
	}
	return s
}
