package filejob

import (
	"context"
	"fmt"
	"sync"

	"github.com/zhiku/zhiku/ingest"
	"github.com/zhiku/zhiku/internal/jobs"
	"github.com/zhiku/zhiku/internal/kb"
)

// Options are what a Processor writes with.
type Options struct {
	Writer      ingest.Writer      // required; *store.Store
	EmbedderFor ingest.EmbedderFor // required
	Pipeline    ingest.Options     // pipeline tuning; zero values take its defaults
	Limits      ingest.Limits      // file limits; zero values take ReadFile's defaults
	// Pruner deletes catalog rows a replacing upload no longer has; nil means uploads with
	// replace keep them and say so in a warning.
	Pruner ingest.Pruner
	// NoExternalTools keeps PDF reading off pdftotext (tests).
	NoExternalTools bool
}

// Processor runs upload jobs; it implements jobs.Processor.
type Processor struct {
	opts Options
}

var _ jobs.Processor = (*Processor)(nil)

// New builds a Processor.
func New(opts Options) *Processor { return &Processor{opts: opts} }

// Process reads the job's file and writes its documents into k. A failure to read the file
// fails the job with ReadFile's bilingual reason. Documents that fail to write are listed
// in the result and the returned error wraps every one of their errors, so the caller can
// tell a transient embedding failure (worth a retry) from a permanent one.
func (p *Processor) Process(ctx context.Context, j jobs.Job, k kb.KnowledgeBase, f jobs.File, report func(jobs.Progress)) (jobs.Result, error) {
	t := &tracker{report: report, p: jobs.Progress{Stage: jobs.StageParsing}}
	t.update(func(*jobs.Progress) {})

	fr, err := ingest.ReadFile(ctx, j.Spec.FileName, f.Data, ingest.FileOptions{
		Kind: j.Spec.Kind, Password: f.Password, Metadata: j.Spec.Metadata,
		Limits: p.opts.Limits, NoExternalTools: p.opts.NoExternalTools,
	})
	if err != nil {
		return jobs.Result{}, err
	}
	res := jobs.Result{Kind: fr.Kind, Method: fr.Method, Pages: fr.Pages, Warnings: append([]kb.Text{}, fr.Warnings...)}
	t.update(func(pr *jobs.Progress) {
		pr.Stage, pr.PagesParsed, pr.DocumentsTotal = jobs.StageEmbedding, fr.Pages, len(fr.Units)
	})

	pipe := ingest.NewPipeline(trackingWriter{p.opts.Writer, t}, func(k kb.KnowledgeBase) (ingest.Embedder, string, error) {
		e, model, err := p.opts.EmbedderFor(k)
		if err != nil {
			return nil, "", err
		}
		return trackingEmbedder{e, t}, model, nil
	}, p.opts.Pipeline)
	outcomes, err := pipe.Write(ctx, k, fr.Units, func(done, _ int, _ ingest.Outcome) {
		t.update(func(pr *jobs.Progress) { pr.DocumentsDone = done })
	})
	var failed unitErrors
	for _, o := range outcomes {
		switch {
		case o.Err != nil:
			res.DocumentsFailed++
			failed.add(o.ExternalID, o.Err)
			if len(res.Failures) < jobs.MaxFailures {
				en, zh := kb.Texts(o.Err)
				res.Failures = append(res.Failures, jobs.Failure{ExternalID: o.ExternalID, Error: en, ErrorZh: zh})
			}
			continue
		case o.Result.DuplicateOf != "":
			res.DocumentsUnchanged++
			res.Warnings = append(res.Warnings, o.DuplicateNote())
		case o.Result.Unchanged:
			res.DocumentsUnchanged++
		case o.Result.Replaced > 0:
			res.DocumentsUpdated++
		default:
			res.DocumentsNew++
		}
		res.Chunks += o.Chunks
	}
	if err != nil {
		return res, err // the knowledge base's embedder is unavailable, or ctx ended
	}
	if j.Spec.Replace {
		res.DocumentsRemoved, res.Warnings = p.prune(ctx, k, fr, res.Warnings)
	}
	if len(failed.errs) > 0 {
		failed.total = len(fr.Units)
		return res, &failed
	}
	return res, nil
}

// prune removes catalog rows the file no longer has; a failure becomes a warning because
// every row the file holds has been written.
func (p *Processor) prune(ctx context.Context, k kb.KnowledgeBase, fr ingest.FileResult, warnings []kb.Text) (int, []kb.Text) {
	switch {
	case fr.ReplaceScope == "":
		return 0, append(warnings, kb.T("replace applies to catalog imports only; nothing was removed", "replace 仅适用于商品目录导入，未删除任何文档"))
	case p.opts.Pruner == nil:
		return 0, append(warnings, kb.T("replace is not available on this server; nothing was removed", "此服务器不支持 replace，未删除任何文档"))
	}
	gone, err := ingest.Prune(ctx, p.opts.Pruner, k.ID, fr)
	if err != nil {
		en, zh := kb.Texts(err)
		return 0, append(warnings, kb.T("removing rows missing from the file failed: "+en, "删除文件中已不存在的条目失败："+zh))
	}
	return len(gone), warnings
}

// unitErrors is the error of a job some of whose documents failed. It unwraps to every
// document's error, so errors.As finds a transient provider error among them.
type unitErrors struct {
	total            int
	firstEn, firstZh string
	errs             []error
}

func (e *unitErrors) add(externalID string, err error) {
	if len(e.errs) == 0 {
		en, zh := kb.Texts(err)
		if zh == "" {
			zh = en
		}
		e.firstEn, e.firstZh = externalID+": "+en, externalID+"："+zh
	}
	e.errs = append(e.errs, err)
}

func (e *unitErrors) Error() string {
	en, _ := e.Texts()
	return en
}

// Texts counts the failed documents and names the first, in both languages.
func (e *unitErrors) Texts() (en, zh string) {
	if len(e.errs) == 1 && e.total == 1 {
		return e.firstEn, e.firstZh
	}
	return fmt.Sprintf("%d of %d documents failed; first: %s", len(e.errs), e.total, e.firstEn),
		fmt.Sprintf("%d 个文档（共 %d 个）写入失败，首个：%s", len(e.errs), e.total, e.firstZh)
}

func (e *unitErrors) Unwrap() []error { return e.errs }

// tracker holds a job's progress and reports a copy after each change.
type tracker struct {
	mu     sync.Mutex
	p      jobs.Progress
	report func(jobs.Progress)
}

func (t *tracker) update(fn func(*jobs.Progress)) {
	t.mu.Lock()
	fn(&t.p)
	p := t.p
	t.mu.Unlock()
	if t.report != nil {
		t.report(p)
	}
}

// trackingEmbedder counts the passages embedded.
type trackingEmbedder struct {
	ingest.Embedder
	t *tracker
}

func (e trackingEmbedder) EmbedDocuments(ctx context.Context, texts []string) ([][]float32, error) {
	e.t.update(func(p *jobs.Progress) { p.Stage = jobs.StageEmbedding })
	vecs, err := e.Embedder.EmbedDocuments(ctx, texts)
	if err == nil {
		e.t.update(func(p *jobs.Progress) { p.ChunksEmbedded += len(vecs) })
	}
	return vecs, err
}

// trackingWriter marks the writing stage.
type trackingWriter struct {
	ingest.Writer
	t *tracker
}

func (w trackingWriter) ReplaceDocument(ctx context.Context, d kb.Document, chunks []kb.Chunk, model string, keep int) (kb.ReplaceResult, error) {
	w.t.update(func(p *jobs.Progress) { p.Stage = jobs.StageWriting })
	return w.Writer.ReplaceDocument(ctx, d, chunks, model, keep)
}

func (w trackingWriter) ReplaceDocuments(ctx context.Context, kbID int64, writes []kb.DocumentWrite, model string, keep int) ([]kb.ReplaceResult, error) {
	w.t.update(func(p *jobs.Progress) { p.Stage = jobs.StageWriting })
	return w.Writer.ReplaceDocuments(ctx, kbID, writes, model, keep)
}
