package apply

// LedTerms is the number of terms m remembers leading.
func LedTerms(m *Machine) int { return len(m.terms) }
