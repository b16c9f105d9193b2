package password

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHashVerify(t *testing.T) {
	t.Parallel()
	h, err := Hash("correct horse 电池")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$"), h)
	require.True(t, Verify(h, "correct horse 电池"))
	require.False(t, Verify(h, "correct horse 电"))
	h2, err := Hash("correct horse 电池")
	require.NoError(t, err)
	require.NotEqual(t, h, h2, "fresh salt each time")

	_, err = Hash("short")
	require.ErrorIs(t, err, ErrTooShort)
	for _, bad := range []string{"", "$2a$10$abc", "$argon2id$v=19$m=1,t=0,p=1$AAAA$AAAA", "$argon2id$v=19$m=19456,t=2,p=1$!!$!!"} {
		require.False(t, Verify(bad, "whatever1"), bad)
	}
	Waste("anything")
}
