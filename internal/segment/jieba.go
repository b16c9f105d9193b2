package segment

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/yanyiwu/gojieba"
	"github.com/zhiku/zhiku/internal/kb"
)

// DictDirEnv names the environment variable that overrides where jieba's dictionary files
// live. gojieba defaults to its own module source directory, which exists only on a machine
// that built the binary from the module cache; a deployed binary needs this.
const DictDirEnv = "ZHIKU_JIEBA_DICT_DIR"

// dictFiles are the files cppjieba reads at start, in gojieba.NewJieba's argument order.
var dictFiles = []string{"jieba.dict.utf8", "hmm_model.utf8", "user.dict.utf8", "idf.utf8", "stop_words.utf8"}

// Segmenter tokenises text. It is safe for concurrent use: it only reads the jieba
// dictionary after loading it.
type Segmenter struct {
	jieba    *gojieba.Jieba
	dictDir  string
	loadTime time.Duration
}

// Options configure [New].
type Options struct {
	// DictDir holds jieba.dict.utf8, hmm_model.utf8, user.dict.utf8, idf.utf8 and
	// stop_words.utf8. Defaults to $ZHIKU_JIEBA_DICT_DIR, then to gojieba's module source
	// as recorded at build time, then (for -trimpath builds) to gojieba in the module cache.
	DictDir string
}

// New loads a jieba instance (~0.7 s, ~200 MB). Most callers want [Shared] instead.
func New(opts Options) (*Segmenter, error) {
	dir := opts.DictDir
	if dir == "" {
		dir = os.Getenv(DictDirEnv)
	}
	if dir == "" {
		dir = defaultDictDir()
	}
	paths := make([]string, len(dictFiles))
	for i, name := range dictFiles {
		paths[i] = filepath.Join(dir, name)
		if _, err := os.Stat(paths[i]); err != nil {
			return nil, &kb.Error{Cause: err, En: fmt.Sprintf("segment: jieba dictionary file %s is missing; set %s to the directory holding %v", paths[i], DictDirEnv, dictFiles),
				Zh: fmt.Sprintf("缺少结巴分词词典文件，请设置 %s", DictDirEnv)}
		}
	}
	start := time.Now()
	// gojieba panics on files it cannot parse; turn that into an error.
	j, err := newJieba(paths)
	if err != nil {
		return nil, fmt.Errorf("segment: load jieba from %s: %w", dir, err)
	}
	return &Segmenter{jieba: j, dictDir: dir, loadTime: time.Since(start)}, nil
}

func newJieba(paths []string) (j *gojieba.Jieba, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("jieba panicked: %v", r)
		}
	}()
	j = gojieba.NewJieba(paths...)
	if j == nil {
		return nil, errors.New("jieba returned nil")
	}
	return j, nil
}

// DictDir reports the directory the dictionary was loaded from.
func (s *Segmenter) DictDir() string { return s.dictDir }

// LoadTime reports how long loading the dictionary took.
func (s *Segmenter) LoadTime() time.Duration { return s.loadTime }

// gojiebaModule is the module directory name inside the Go module cache.
const gojiebaModule = "github.com/yanyiwu/gojieba@v1.4.6"

// defaultDictDir returns gojieba's own DICT_DIR, which is the source path recorded when the
// binary was built. A binary built with -trimpath records a relative path instead, so then
// look in this machine's module cache.
func defaultDictDir() string {
	if filepath.IsAbs(gojieba.DICT_DIR) {
		return gojieba.DICT_DIR
	}
	cache := os.Getenv("GOMODCACHE")
	if cache == "" {
		gopath := os.Getenv("GOPATH")
		if gopath == "" {
			home, _ := os.UserHomeDir()
			gopath = filepath.Join(home, "go")
		}
		cache = filepath.Join(gopath, "pkg", "mod")
	}
	return filepath.Join(cache, gojiebaModule, "deps", "cppjieba", "dict")
}

// cutForSearch segments one Han run in search mode with HMM for unknown words.
func (s *Segmenter) cutForSearch(han string) []string {
	return s.jieba.CutForSearch(han, true)
}

var (
	sharedOnce sync.Once
	shared     *Segmenter
	sharedErr  error
)

// Shared returns the process-wide Segmenter, loading it on first use with default
// [Options]. Later calls return the same instance, or the same error.
func Shared() (*Segmenter, error) {
	sharedOnce.Do(func() { shared, sharedErr = New(Options{}) })
	return shared, sharedErr
}

// Load loads the shared Segmenter now. Call it at start-up to fail fast and to keep the
// ~0.7 s load out of the first request.
func Load() error {
	_, err := Shared()
	return err
}
