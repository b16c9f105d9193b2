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
		return fmt.Errorf("%w: name is required / 名称不能为空", ErrInvalid)
	case n > 64:
		return fmt.Errorf("%w: name is longer than 64 characters / 名称超过 64 个字符", ErrInvalid)
	case !kbNamePattern.MatchString(name):
		return fmt.Errorf("%w: name %q may hold only letters, digits, '_', '.', '-' / 名称只能包含字母、数字、下划线、点和连字符", ErrInvalid, name)
	case digitsOnly.MatchString(name):
		return fmt.Errorf("%w: name %q must not be all digits / 名称不能全是数字", ErrInvalid, name)
	}
	return nil
}
