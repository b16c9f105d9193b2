package config_test

import (
	"bufio"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/zhiku/zhiku/internal/config"
)

// The packaging (Dockerfile, compose.yaml at the repository's root) is checked here, where
// the variables it must pass are defined: the image cannot be built on machines without
// a registry, so these tests hold what can be held without one.

func repoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", name))
	require.NoError(t, err)
	return string(b)
}

// configVariables lists every environment variable config.Load reads, by recording its
// reads: a variable added to the config is in the list without anyone updating it.
func configVariables() []string {
	var names []string
	_, _ = config.Load(func(name string) string {
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
		return ""
	})
	slices.Sort(names)
	return names
}

type composeService struct {
	Build       string            `yaml:"build"`
	Image       string            `yaml:"image"`
	Environment map[string]string `yaml:"environment"`
	Entrypoint  []string          `yaml:"entrypoint"`
	Command     []string          `yaml:"command"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	Volumes  []string `yaml:"volumes"`
	Ports    []string `yaml:"ports"`
	Profiles []string `yaml:"profiles"`
}

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	var c composeFile
	require.NoError(t, yaml.Unmarshal([]byte(repoFile(t, "compose.yaml")), &c), "compose.yaml")
	return c
}

// interpolation matches compose's ${NAME}, ${NAME:-default} and ${NAME-default}.
var interpolation = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}`)

// interpolate expands a compose value as compose would with the given shell variables,
// taking defaults for the others.
func interpolate(v string, shell map[string]string) string {
	return interpolation.ReplaceAllStringFunc(v, func(m string) string {
		sub := interpolation.FindStringSubmatch(m)
		if s, ok := shell[sub[1]]; ok {
			return s
		}
		return sub[2]
	})
}

func TestComposeNamesEveryConfigVariable(t *testing.T) {
	t.Parallel()
	vars := configVariables()
	require.Contains(t, vars, "DATABASE_URL", "the recording saw config.Load's reads")
	require.Contains(t, vars, "DATABASE_READ_URL")
	c := loadCompose(t)
	zhikus := 0
	for name, s := range c.Services {
		if s.Build == "" {
			continue
		}
		zhikus++
		var missing []string
		for _, v := range vars {
			if _, ok := s.Environment[v]; !ok {
				missing = append(missing, v)
			}
		}
		require.Empty(t, missing, "compose.yaml service %s (x-zhiku-env) does not name these variables that internal/config reads", name)
		for v := range s.Environment {
			require.Contains(t, vars, v, "compose.yaml service %s sets %s, which Zhiku does not read", name, v)
		}
		require.Equal(t, ".", s.Build, name)
		require.Equal(t, c.Services["zhiku"].Image, s.Image, "service %s runs the one image", name)
	}
	require.GreaterOrEqual(t, zhikus, 2, "migrate and zhiku run the image built from the Dockerfile")
}

func TestComposeEnvironmentIsAValidConfiguration(t *testing.T) {
	t.Parallel()
	c := loadCompose(t)
	db := c.Services["db"]
	// As a user would run it: nothing set but an admin key (the file the migrate service
	// generates does not exist here).
	shell := map[string]string{"ZHIKU_ADMIN_KEY": "compose-test-admin-key"}
	env := map[string]string{}
	for k, v := range c.Services["zhiku"].Environment {
		env[k] = interpolate(v, shell)
	}
	cfg, err := config.Load(func(name string) string { return env[name] })
	require.NoError(t, err, "compose.yaml's environment, defaults taken")
	require.Equal(t, "local", cfg.Embedder)
	require.Empty(t, cfg.DatabaseReadURL, "reads go to the primary unless DATABASE_READ_URL is given")

	// DATABASE_URL reaches the db service as the user and database it creates.
	u, err := url.Parse(cfg.DatabaseURL)
	require.NoError(t, err)
	require.Equal(t, "db:5432", u.Host)
	require.Equal(t, interpolate(db.Environment["POSTGRES_USER"], nil), u.User.Username())
	pw, _ := u.User.Password()
	require.Equal(t, interpolate(db.Environment["POSTGRES_PASSWORD"], nil), pw)
	require.Equal(t, "/"+interpolate(db.Environment["POSTGRES_DB"], nil), u.Path)
	_, port, _ := strings.Cut(cfg.Addr, ":")
	require.Contains(t, c.Services["zhiku"].Ports, "${ZHIKU_PORT:-8080}:"+port, "the published port is the one served")
}

func TestComposeRunsPgvectorMigratesThenServes(t *testing.T) {
	t.Parallel()
	c := loadCompose(t)
	db := c.Services["db"]
	require.Equal(t, "pgvector/pgvector:pg15", db.Image)
	require.NotEmpty(t, db.Healthcheck.Test, "the db service has a health check")
	require.True(t, slices.ContainsFunc(db.Volumes, func(v string) bool {
		vol, path, _ := strings.Cut(v, ":")
		_, declared := c.Volumes[vol]
		return declared && path == "/var/lib/postgresql/data"
	}), "PostgreSQL's data is on a named volume: %v", db.Volumes)

	migrate := c.Services["migrate"]
	require.Equal(t, "service_healthy", migrate.DependsOn["db"].Condition)
	require.Len(t, migrate.Command, 1)
	require.True(t, strings.HasSuffix(strings.TrimSpace(migrate.Command[0]), "exec zhiku migrate"), migrate.Command)

	serve := c.Services["zhiku"]
	require.Equal(t, []string{"serve"}, serve.Command)
	require.Equal(t, "service_completed_successfully", serve.DependsOn["migrate"].Condition)
	require.Equal(t, "service_healthy", serve.DependsOn["db"].Condition)
	require.True(t, slices.ContainsFunc(serve.Healthcheck.Test, func(s string) bool { return strings.HasSuffix(s, ":8080/readyz") }),
		"the server's health check asks /readyz: %v", serve.Healthcheck.Test)

	demo := c.Services["demo"]
	require.Equal(t, []string{"demo"}, demo.Profiles, "the demo loads only when asked for")
	require.Contains(t, demo.Entrypoint, "/src/scripts/demo.sh")
	_, err := os.Stat(filepath.Join("..", "..", "scripts", "demo.sh"))
	require.NoError(t, err)
}

// dockerStage is one FROM of a Dockerfile and its instructions (continuations joined,
// comments dropped), each as "KEYWORD rest".
type dockerStage struct {
	from         string
	instructions []string
}

func dockerStages(t *testing.T) []dockerStage {
	t.Helper()
	var stages []dockerStage
	var line strings.Builder
	sc := bufio.NewScanner(strings.NewReader(repoFile(t, "Dockerfile")))
	for sc.Scan() {
		text := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(text, "#") || (text == "" && line.Len() == 0) {
			continue
		}
		if cont, ok := strings.CutSuffix(text, `\`); ok {
			line.WriteString(cont + " ")
			continue
		}
		line.WriteString(text)
		ins := line.String()
		line.Reset()
		keyword, rest, _ := strings.Cut(ins, " ")
		if strings.EqualFold(keyword, "FROM") {
			stages = append(stages, dockerStage{from: rest})
			continue
		}
		require.NotEmpty(t, stages, "an instruction before FROM: %s", ins)
		stages[len(stages)-1].instructions = append(stages[len(stages)-1].instructions, strings.ToUpper(keyword)+" "+rest)
	}
	return stages
}

func (s dockerStage) all(keyword string) []string {
	var out []string
	for _, ins := range s.instructions {
		if rest, ok := strings.CutPrefix(ins, keyword+" "); ok {
			out = append(out, rest)
		}
	}
	return out
}

// makeVar returns the value of NAME := value (or ?=, =) in the Makefile.
func makeVar(t *testing.T, makefile, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^(?:export\s+)?` + name + `\s*[:?]?=\s*(.+)$`).FindStringSubmatch(makefile)
	require.NotNil(t, m, "Makefile sets %s", name)
	return strings.TrimSpace(m[1])
}

func TestDockerfileBuildsAsTheMakefileDoes(t *testing.T) {
	t.Parallel()
	makefile := repoFile(t, "Makefile")
	bin := makeVar(t, makefile, "BIN")
	recipe := regexp.MustCompile(`(?m)^build:.*\n\t(.+)$`).FindStringSubmatch(makefile)
	require.NotNil(t, recipe, "the Makefile's build target")
	require.Equal(t, "$(GO) build -o $(BIN) ./cmd/zhiku", recipe[1], "the Makefile builds the binary; if this changes, check that the Dockerfile's `make build` still gives bin/zhiku")

	stages := dockerStages(t)
	require.GreaterOrEqual(t, len(stages), 2, "multi-stage: a build stage and a runtime stage")
	build, runtime := stages[0], stages[len(stages)-1]

	// One build, the Makefile's: the image runs `make build` and never its own go build.
	require.Contains(t, build.all("RUN"), "make build")
	for _, s := range stages {
		for _, run := range s.all("RUN") {
			require.NotContains(t, run, "go build", "the Dockerfile builds through `make build` only")
		}
	}
	require.True(t, slices.ContainsFunc(build.all("RUN"), func(r string) bool { return strings.Contains(r, "cp "+bin+" ") }),
		"the build stage takes the Makefile's %s", bin)
	require.Contains(t, build.all("ENV"), "CGO_ENABLED=1", "gojieba needs cgo")

	// The Go of go.mod, on the Debian of the runtime stage (the cgo binary needs its glibc).
	goLine := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(repoFile(t, "go.mod"))
	require.NotNil(t, goLine)
	m := regexp.MustCompile(`^golang:(\d+\.\d+)-(\w+) AS (\w+)$`).FindStringSubmatch(build.from)
	require.NotNil(t, m, "build stage: FROM golang:<go>-<debian> AS <name>, got %q", build.from)
	require.Equal(t, goLine[1], m[1], "the build stage's Go is go.mod's")
	require.Equal(t, "debian:"+m[2]+"-slim", runtime.from, "the runtime stage is the build stage's Debian release")
	require.True(t, slices.ContainsFunc(runtime.all("COPY"), func(c string) bool {
		return strings.HasPrefix(c, "--from="+m[3]+" ") && strings.HasSuffix(c, " /usr/local/bin/zhiku")
	}), "the runtime stage takes the binary from the build stage")

	// Not root, and what the binary needs at run time.
	users := runtime.all("USER")
	require.NotEmpty(t, users, "the runtime stage sets a USER")
	uid, _, _ := strings.Cut(users[len(users)-1], ":")
	require.NotContains(t, []string{"root", "0"}, uid, "the image runs as an unprivileged user")
	last := runtime.instructions[len(runtime.instructions)-1]
	require.True(t, slices.Index(runtime.instructions, "USER "+users[len(users)-1]) > slices.IndexFunc(runtime.instructions, func(s string) bool { return strings.HasPrefix(s, "RUN ") }),
		"USER comes after the last RUN of the runtime stage")
	require.Equal(t, `CMD ["serve"]`, last)
	require.Contains(t, runtime.all("ENTRYPOINT"), `["zhiku"]`)
	require.True(t, slices.ContainsFunc(runtime.all("RUN"), func(r string) bool { return strings.Contains(r, "poppler-utils") }), "pdftotext reads PDFs")
	// gojieba's dictionaries (internal/segment reads ZHIKU_JIEBA_DICT_DIR) are shipped.
	dict := ""
	for _, env := range runtime.all("ENV") {
		for _, kv := range strings.Fields(env) {
			if v, ok := strings.CutPrefix(kv, "ZHIKU_JIEBA_DICT_DIR="); ok {
				dict = v
			}
		}
	}
	require.NotEmpty(t, dict, "the runtime stage sets ZHIKU_JIEBA_DICT_DIR")
	require.True(t, slices.ContainsFunc(runtime.all("COPY"), func(c string) bool { return strings.HasSuffix(c, " "+dict) }), "the dictionaries are copied to %s", dict)

	// The build context leaves out local binaries.
	ignore := strings.Fields(repoFile(t, ".dockerignore"))
	require.Contains(t, ignore, strings.Split(bin, "/")[0])
}
