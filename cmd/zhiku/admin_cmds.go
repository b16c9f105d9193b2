package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store"
	"github.com/zhiku/zhiku/migrations"
)

func (a *app) migrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply database migrations (serve also does this at start)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := migrations.Migrate(cmd.Context(), a.cfg.DatabaseURL, a.log)
			if err != nil {
				return fmt.Errorf("%w (is PostgreSQL running? `make db` sets it up)", err)
			}
			fmt.Fprintf(a.out, "migrated: %d applied, schema version %d; River job tables: %d applied\n", len(res.Applied), res.Current, len(res.RiverApplied))
			return nil
		},
	}
}

func (a *app) kbCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "kb", Short: "Manage knowledge bases"}
	var tenantName, language, description string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a knowledge base (does nothing if it exists)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			name := args[0]
			if err := kb.ValidateKBName(name); err != nil {
				return err
			}
			if !kb.ValidLanguage(language) {
				return fmt.Errorf("--language must be zh or en, got %q", language)
			}
			sess, err := a.openSession(ctx, tenantName)
			if err != nil {
				return err
			}
			defer sess.Close()
			st, t := sess.st, sess.tenant
			spec := embeddingSpec(a.cfg)
			k, err := st.CreateKB(ctx, kb.KnowledgeBase{
				TenantID: t.ID, Name: name, Description: description, Language: language,
				Embedder: spec.Embedder, EmbeddingModel: spec.Model, EmbeddingDim: spec.Dimension,
			})
			if errors.Is(err, kb.ErrConflict) {
				k, err = st.GetKB(ctx, t.ID, name)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.out, "knowledge base %q exists in tenant %s (id %d)\n", k.Name, t.Name, k.ID)
				return nil
			}
			if err != nil {
				return err
			}
			_ = st.Audit(ctx, kb.AuditEntry{TenantID: t.ID, Actor: "cli", Action: "kb.create", Target: k.Name})
			fmt.Fprintf(a.out, "created knowledge base %q in tenant %s (id %d, %s %s, %d dims)\n", k.Name, t.Name, k.ID, k.Embedder, k.EmbeddingModel, k.EmbeddingDim)
			return nil
		},
	}
	create.Flags().StringVar(&tenantName, "tenant", "", "tenant (default \"default\")")
	create.Flags().StringVar(&language, "language", kb.LanguageZh, "zh or en")
	create.Flags().StringVar(&description, "description", "", "what the knowledge base holds")

	var listTenant string
	list := &cobra.Command{
		Use:   "list",
		Short: "List knowledge bases",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			sess, err := a.openSession(ctx, listTenant)
			if err != nil {
				return err
			}
			defer sess.Close()
			st, t := sess.st, sess.tenant
			kbs, err := st.ListKBs(ctx, t.ID, nil)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tNAME\tLANGUAGE\tEMBEDDER\tMODEL\tDIM\tDESCRIPTION")
			for _, k := range kbs {
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%d\t%s\n", k.ID, k.Name, k.Language, k.Embedder, k.EmbeddingModel, k.EmbeddingDim, k.Description)
			}
			return w.Flush()
		},
	}
	list.Flags().StringVar(&listTenant, "tenant", "", "tenant (default \"default\")")
	cmd.AddCommand(create, list)
	return cmd
}

func (a *app) keyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "key", Short: "Manage API keys"}
	var tenantName, role, name string
	var kbNames []string
	create := &cobra.Command{
		Use:   "create --tenant T --role admin|operator|uploader|bot [--kb NAME]...",
		Short: "Create an API key; it is printed once, alone on the last line",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if !kb.ValidRole(kb.Role(role)) {
				return fmt.Errorf("--role must be admin, operator, uploader or bot, got %q", role)
			}
			sess, err := a.openSession(ctx, tenantName)
			if err != nil {
				return err
			}
			defer sess.Close()
			st, t := sess.st, sess.tenant
			var ids []int64
			for _, n := range kbNames {
				k, err := st.GetKB(ctx, t.ID, n)
				if err != nil {
					return fmt.Errorf("--kb %s: no such knowledge base in tenant %s", n, t.Name)
				}
				ids = append(ids, k.ID)
			}
			key, prefix, hash := newAPIKey()
			id, err := st.CreateKey(ctx, store.CreateKeyParams{TenantID: t.ID, Name: name, Prefix: prefix, KeyHash: hash, Role: kb.Role(role), KBIDs: ids})
			if err != nil {
				return err
			}
			_ = st.Audit(ctx, kb.AuditEntry{TenantID: t.ID, Actor: "cli", Action: "key.create", Target: prefix, Details: map[string]any{"id": id, "role": role, "kb": kbNames}})
			scope := "all knowledge bases"
			if len(kbNames) > 0 {
				scope = fmt.Sprintf("knowledge bases %v", kbNames)
			}
			fmt.Fprintf(a.out, "created %s key %d (%s) for tenant %s, %s. It is shown only once:\n", role, id, prefix, t.Name, scope)
			fmt.Fprintln(a.out, key)
			return nil
		},
	}
	create.Flags().StringVar(&tenantName, "tenant", "", "tenant (default \"default\"); created if missing")
	create.Flags().StringVar(&role, "role", "", "admin, operator, uploader or bot")
	create.Flags().StringSliceVar(&kbNames, "kb", nil, "bind the key to this knowledge base (repeatable)")
	create.Flags().StringVar(&name, "name", "", "a label for the key")
	_ = create.MarkFlagRequired("role")
	cmd.AddCommand(create)
	return cmd
}

// newAPIKey makes a 256-bit random key, its display prefix and its SHA-256.
func newAPIKey() (key, prefix string, hash []byte) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return hashKey("zk_" + hex.EncodeToString(b))
}

// hashKey returns key with its display prefix and the SHA-256 stored in its place.
func hashKey(key string) (string, string, []byte) {
	sum := sha256.Sum256([]byte(key))
	return key, key[:min(11, len(key))], sum[:]
}
