package kb

import (
	"fmt"
	"regexp"
	"unicode/utf8"
)

var kbNamePattern = regexp.MustCompile(`^[\p{L}\p{N}][\p{L}\p{N}_.\-]*$`)
var digitsOnly = regexp.MustCompile(`^[0-9]+$`)

// ValidateKBName checks a knowledge-base name: 1..64 letters (any script), digits, '_', '.'
// or '-', starting with a letter or digit, and not all digits (numbers address KBs by id).
func ValidateKBName(name string) error {
	n := utf8.RuneCountInString(name)
	switch {
	case n == 0:
		return Invalid("name is required", "名称不能为空")
	case n > 64:
		return Invalid("name is longer than 64 characters", "名称超过 64 个字符")
	case !kbNamePattern.MatchString(name):
		return Invalid(fmt.Sprintf("name %q may hold only letters, digits, '_', '.', '-'", name), "名称只能包含字母、数字、下划线、点和连字符")
	case digitsOnly.MatchString(name):
		return Invalid(fmt.Sprintf("name %q must not be all digits", name), "名称不能全是数字")
	}
	return nil
}
