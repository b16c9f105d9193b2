package kb

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValidateKBName(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"售后知识库", "smoke-kb", "manual_v2.1", "A"} {
		require.NoError(t, ValidateKBName(ok), ok)
	}
	for _, bad := range []string{"", "123", "-x", "has space", "a/b", strings.Repeat("知", 65), "x'; DROP TABLE"} {
		require.ErrorIs(t, ValidateKBName(bad), ErrInvalid, bad)
	}
}

func TestRolePermissions(t *testing.T) {
	t.Parallel()
	require.True(t, RoleAdmin.Can(PermDeleteKB))
	require.False(t, RoleOperator.Can(PermDeleteKB))
	require.True(t, RoleUploader.Can(PermUpload))
	require.False(t, RoleUploader.Can(PermSearch))
	require.True(t, RoleBot.Can(PermSearch))
	require.False(t, RoleBot.Can(PermWriteKB))
	require.False(t, Role("root").Can(PermReadKB))
}
