package main

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/password"
)

// userCmd manages the admin UI's users: `zhiku user create` makes the first ones.
func (a *app) userCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage admin UI users"}
	var tenantName, email, role, name string
	var kbNames []string
	var fromStdin bool
	create := &cobra.Command{
		Use:   "create --tenant T --email E --role admin|operator|uploader [--kb NAME]... [--password-stdin]",
		Short: "Create an admin UI user; without --password-stdin a password is generated and printed once, alone on the last line",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			r := kb.Role(role)
			if r != kb.RoleAdmin && r != kb.RoleOperator && r != kb.RoleUploader {
				return fmt.Errorf("--role must be admin, operator or uploader, got %q", role)
			}
			if !strings.Contains(email, "@") {
				return fmt.Errorf("--email must be an email address, got %q", email)
			}
			pw, generated := "", false
			if fromStdin {
				line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if err != nil && line == "" {
					return errors.New("--password-stdin: no password on standard input")
				}
				pw = strings.TrimRight(line, "\r\n")
			} else {
				b := make([]byte, 12)
				if _, err := rand.Read(b); err != nil {
					return err
				}
				pw, generated = base64.RawURLEncoding.EncodeToString(b), true
			}
			hash, err := password.Hash(pw)
			if err != nil {
				return fmt.Errorf("--password-stdin: %w", err)
			}
			sess, err := a.openSession(ctx, tenantName)
			if err != nil {
				return err
			}
			defer sess.Close()
			var ids []int64
			for _, n := range kbNames {
				k, err := sess.knowledgeBase(ctx, n)
				if err != nil {
					return err
				}
				ids = append(ids, k.ID)
			}
			u, err := sess.st.CreateUser(ctx, kb.User{TenantID: sess.tenant.ID, Email: email, DisplayName: name, PasswordHash: hash, Role: r, KBIDs: ids})
			if errors.Is(err, kb.ErrConflict) {
				return fmt.Errorf("a user %s already exists in tenant %s", email, sess.tenant.Name)
			}
			if err != nil {
				return err
			}
			_ = sess.st.Audit(ctx, kb.AuditEntry{TenantID: sess.tenant.ID, Actor: "cli", Action: "user.create", Target: u.Email, Details: map[string]any{"id": u.ID, "role": role, "kb": kbNames}})
			scope := "all knowledge bases"
			if len(kbNames) > 0 {
				scope = fmt.Sprintf("knowledge bases %v", kbNames)
			}
			fmt.Fprintf(a.out, "created %s user %s (id %d) in tenant %s, %s; sign in at /admin/\n", role, u.Email, u.ID, sess.tenant.Name, scope)
			if generated {
				fmt.Fprintln(a.out, "Its password is shown only once:")
				fmt.Fprintln(a.out, pw)
			}
			return nil
		},
	}
	create.Flags().StringVar(&tenantName, "tenant", "", "tenant (default \"default\"); created if missing")
	create.Flags().StringVar(&email, "email", "", "the user's email, used to sign in")
	create.Flags().StringVar(&role, "role", "", "admin, operator or uploader")
	create.Flags().StringVar(&name, "name", "", "display name")
	create.Flags().StringSliceVar(&kbNames, "kb", nil, "bind the user to this knowledge base (repeatable; default all)")
	create.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of standard input")
	_ = create.MarkFlagRequired("email")
	_ = create.MarkFlagRequired("role")
	cmd.AddCommand(create)
	return cmd
}
