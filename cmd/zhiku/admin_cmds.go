package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/zhiku/zhiku/internal/config"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store"
)

func (a *app) migrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply database migrations (serve also does this at start)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := a.migrate(cmd.Context())
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
	var tenantName, role, name, expires string
	var rateLimit float64
	var kbNames []string
	create := &cobra.Command{
		Use:   "create --tenant T --role admin|operator|uploader|bot [--kb NAME]... [--expires 30d] [--rate-limit N]",
		Short: "Create an API key; it is printed once, alone on the last line",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if !kb.ValidRole(kb.Role(role)) {
				return fmt.Errorf("--role must be admin, operator, uploader or bot, got %q", role)
			}
			p := store.CreateKeyParams{Name: name, Role: kb.Role(role)}
			if expires != "" {
				at, err := parseExpiry(expires, time.Now())
				if err != nil {
					return err
				}
				p.ExpiresAt = &at
			}
			if cmd.Flags().Changed("rate-limit") {
				if rateLimit < 0 || rateLimit > config.MaxRateLimit {
					return fmt.Errorf("--rate-limit must be 0 (unlimited) to %d requests per second, got %g", config.MaxRateLimit, rateLimit)
				}
				p.RateLimit = &rateLimit
			}
			sess, err := a.openSession(ctx, tenantName)
			if err != nil {
				return err
			}
			defer sess.Close()
			st, t := sess.st, sess.tenant
			for _, n := range kbNames {
				k, err := st.GetKB(ctx, t.ID, n)
				if err != nil {
					return fmt.Errorf("--kb %s: no such knowledge base in tenant %s", n, t.Name)
				}
				p.KBIDs = append(p.KBIDs, k.ID)
			}
			key, prefix, hash := newAPIKey()
			p.TenantID, p.Prefix, p.KeyHash = t.ID, prefix, hash
			id, err := st.CreateKey(ctx, p)
			if err != nil {
				return err
			}
			_ = st.Audit(ctx, kb.AuditEntry{TenantID: t.ID, Actor: "cli", Action: "key.create", Target: prefix,
				Details: map[string]any{"id": id, "role": role, "kb": kbNames, "expires_at": p.ExpiresAt, "rate_limit": p.RateLimit}})
			scope := "all knowledge bases"
			if len(kbNames) > 0 {
				scope = fmt.Sprintf("knowledge bases %v", kbNames)
			}
			fmt.Fprintf(a.out, "created %s key %d (%s) for tenant %s, %s, %s, %s. It is shown only once:\n",
				role, id, prefix, t.Name, scope, expiryText(p.ExpiresAt), rateText(p.RateLimit, a.cfg.RateLimit))
			fmt.Fprintln(a.out, key)
			return nil
		},
	}
	create.Flags().StringVar(&tenantName, "tenant", "", "tenant (default \"default\"); created if missing")
	create.Flags().StringVar(&role, "role", "", "admin, operator, uploader or bot")
	create.Flags().StringSliceVar(&kbNames, "kb", nil, "bind the key to this knowledge base (repeatable)")
	create.Flags().StringVar(&name, "name", "", "a label for the key")
	create.Flags().StringVar(&expires, "expires", "", "when the key stops working: a duration from now (90d, 720h) or a date or time (2030-01-31, RFC 3339); default never")
	create.Flags().Float64Var(&rateLimit, "rate-limit", 0, "requests per second this key may send (0: unlimited); default ZHIKU_RATE_LIMIT")
	_ = create.MarkFlagRequired("role")

	var listTenant string
	list := &cobra.Command{
		Use:   "list [--tenant T]",
		Short: "List a tenant's API keys (prefixes only), revoked and expired ones included",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			sess, err := a.openSession(ctx, listTenant)
			if err != nil {
				return err
			}
			defer sess.Close()
			keys, err := sess.st.ListKeys(ctx, sess.tenant.ID)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tPREFIX\tNAME\tROLE\tKNOWLEDGE BASES\tSTATE\tEXPIRES\tRATE\tLAST USED")
			now := time.Now()
			for _, k := range keys {
				state := "live"
				switch {
				case k.RevokedAt != nil:
					state = "revoked"
				case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
					state = "expired"
				}
				kbs, exp, rate, used := "all", "never", "default", "never"
				if k.KBIDs != nil {
					kbs = fmt.Sprint(k.KBIDs)
				}
				if k.ExpiresAt != nil {
					exp = k.ExpiresAt.UTC().Format(time.RFC3339)
				}
				if k.RateLimit != nil {
					rate = fmt.Sprintf("%g/s", *k.RateLimit)
				}
				if k.LastUsedAt != nil {
					used = k.LastUsedAt.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Prefix, k.Name, k.Role, kbs, state, exp, rate, used)
			}
			return w.Flush()
		},
	}
	list.Flags().StringVar(&listTenant, "tenant", "", "tenant (default \"default\")")

	var revokeTenant string
	revoke := &cobra.Command{
		Use:   "revoke ID [--tenant T]",
		Short: "Revoke an API key at once (its admin UI sessions end too)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return fmt.Errorf("key id must be a number (see `zhiku key list`), got %q", args[0])
			}
			sess, err := a.openSession(ctx, revokeTenant)
			if err != nil {
				return err
			}
			defer sess.Close()
			if err := sess.st.RevokeKey(ctx, sess.tenant.ID, id); errors.Is(err, kb.ErrNotFound) {
				return fmt.Errorf("no live key %d in tenant %s", id, sess.tenant.Name)
			} else if err != nil {
				return err
			}
			_ = sess.st.Audit(ctx, kb.AuditEntry{TenantID: sess.tenant.ID, Actor: "cli", Action: "key.revoke", Target: args[0], Details: map[string]any{"id": id}})
			fmt.Fprintf(a.out, "revoked key %d of tenant %s\n", id, sess.tenant.Name)
			return nil
		},
	}
	revoke.Flags().StringVar(&revokeTenant, "tenant", "", "tenant (default \"default\")")
	cmd.AddCommand(create, list, revoke)
	return cmd
}

// parseExpiry reads --expires: a duration from now ("90d", "720h", "1h30m"), a date
// ("2030-01-31", midnight UTC) or an RFC 3339 time; it must lie in the future.
func parseExpiry(s string, now time.Time) (time.Time, error) {
	var at time.Time
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 {
			return at, fmt.Errorf("--expires %q: want a number of days such as 90d", s)
		}
		at = now.Add(time.Duration(n) * 24 * time.Hour)
	} else if d, err := time.ParseDuration(s); err == nil {
		at = now.Add(d)
	} else if t, err := time.Parse(time.DateOnly, s); err == nil {
		at = t
	} else if t, err := time.Parse(time.RFC3339, s); err == nil {
		at = t
	} else {
		return at, fmt.Errorf("--expires %q: want a duration (90d, 720h), a date (2030-01-31) or an RFC 3339 time", s)
	}
	if !at.After(now) {
		return at, fmt.Errorf("--expires %q: %s is not in the future", s, at.UTC().Format(time.RFC3339))
	}
	return at, nil
}

func expiryText(at *time.Time) string {
	if at == nil {
		return "never expires"
	}
	return "expires " + at.UTC().Format(time.RFC3339)
}

// rateText describes a key's rate; def is ZHIKU_RATE_LIMIT.
func rateText(own *float64, def float64) string {
	r, from := def, " (ZHIKU_RATE_LIMIT)"
	if own != nil {
		r, from = *own, ""
	}
	if r == 0 {
		return "no rate limit" + from
	}
	return fmt.Sprintf("%g requests/s%s", r, from)
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
