package parse

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
)

// A DOCX nested far deeper than Word writes is refused naming the nesting, not as a
// scanned image.
func TestDOCXDeepNestingIsNamed(t *testing.T) {
	t.Parallel()
	body := `<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>` +
		strings.Repeat("<w:p>", 5000) + strings.Repeat("</w:p>", 5000) + `</w:body></w:document>`
	_, err := Parse(context.Background(), docxFile(t, map[string]string{"word/document.xml": body}), "nested.docx", Options{})
	require.ErrorIs(t, err, ErrCorrupt)
	en, zh := kb.Texts(err)
	require.Contains(t, en, "nests elements more than 256 deep")
	require.NotContains(t, en, "scanned")
	require.Contains(t, zh, "嵌套超过 256 层")
}

// Text far beyond what the file's size allows is refused with ErrTooLarge.
func TestTextBudget(t *testing.T) {
	t.Parallel()
	require.Equal(t, MinTextBudget, textBudget(1000, Options{}))
	require.Equal(t, 20<<20, textBudget(1<<20, Options{}))
	require.Equal(t, MaxTextBytes, textBudget(100<<20, Options{}))
	_, err := Parse(context.Background(), []byte(strings.Repeat("word ", 1000)), "a.txt", Options{MaxTextBytes: 100})
	require.ErrorIs(t, err, kb.ErrTooLarge)
	require.ErrorContains(t, err, "more than 100 bytes of text")
}
