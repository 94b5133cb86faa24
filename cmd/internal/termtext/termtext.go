// Package termtext makes text from outside (Clerk, AWS, file names) safe to
// print on a terminal, for the project's command-line programs.
package termtext

import (
	"strings"
	"unicode"
)

// OneLine collapses white space, so an error is one line whatever it wraps.
func OneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Printable replaces what a terminal would act on rather than show (control
// and format characters, such as escape sequences or a right-to-left
// override in a user's name) with "?", so the text prints as text.
func Printable(s string) string {
	return strings.Map(func(r rune) rune {
		if !unicode.IsGraphic(r) {
			return '?'
		}
		return r
	}, s)
}
