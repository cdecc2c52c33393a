// Package suggest finds the known word a misspelled one most likely meant,
// for the "did you mean" hints of diagnostics and configuration errors.
package suggest

// Closest returns the candidate at the fewest edits from word, if that is at
// most maxEdits; ties go to the candidate that sorts first. It returns "" if
// none is that close.
func Closest(word string, candidates []string, maxEdits int) string {
	best, bestDist := "", maxEdits+1
	for _, c := range candidates {
		if d := Distance(word, c); d < bestDist || d == bestDist && c < best {
			best, bestDist = c, d
		}
	}
	return best
}

// Distance is the Levenshtein distance between a and b, in bytes: the
// fewest single-byte insertions, deletions and substitutions from a to b.
func Distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
