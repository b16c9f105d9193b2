package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/zhiku/zhiku/ingest/parse"
	"github.com/zhiku/zhiku/internal/jobs"
	"github.com/zhiku/zhiku/internal/kb"
)

// formSlack is what an upload body may hold besides the file: multipart headers and the
// small form fields.
const formSlack = 1 << 20

// maxFieldBytes bounds each form field other than the file (metadata is the big one).
const maxFieldBytes = 64 << 10

// limitUpload replaces the JSON body limit on the upload route: the file may be up to
// MaxUploadBytes, checked while streaming, so an oversized upload is refused without
// buffering it.
func (s *Server) limitUpload(c *gin.Context) {
	n := s.deps.MaxUploadBytes
	if c.Request.ContentLength > n+formSlack {
		fail(c, uploadTooLarge(n))
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, n+formSlack)
	c.Next()
}

func uploadTooLarge(n int64) *apiError {
	return newError(http.StatusRequestEntityTooLarge, "too_large",
		fmt.Sprintf("file is larger than the upload limit of %d bytes (ZHIKU_MAX_UPLOAD_BYTES)", n),
		fmt.Sprintf("文件超过上传上限 %d 字节（ZHIKU_MAX_UPLOAD_BYTES）", n))
}

// upload is a parsed upload form.
type upload struct {
	name     string
	data     []byte
	kind     string
	metadata map[string]any
	password string
	replace  bool
}

// uploadDocument answers POST /v1/knowledge-bases/{kb}/documents (multipart: file, kind
// (default auto), metadata (a JSON object), password, replace). Size, type and form checks
// run here; reading and embedding run in a job: 202 {"job": {...}} with Location.
func (s *Server) uploadDocument(c *gin.Context) {
	k, ok := s.knowledgeBase(c)
	if !ok {
		return
	}
	u, err := s.readUpload(c.Request)
	if err != nil {
		fail(c, err)
		return
	}
	format, err := parse.Sniff(u.name, u.data)
	if err == nil {
		err = parse.CheckEncoding(format, u.data)
	}
	if err != nil {
		en, zh := kb.Texts(err)
		fail(c, newError(http.StatusUnsupportedMediaType, "unsupported",
			fmt.Sprintf("%s: not a file Zhiku can read (%s)", u.name, en), fmt.Sprintf("%s：无法读取的文件（%s）", u.name, zh)))
		return
	}
	p, _ := principal(c)
	j, err := s.deps.Jobs.EnqueueJob(c.Request.Context(), jobs.NewJob{
		TenantID: k.TenantID, KBID: k.ID, CreatedBy: p.Name,
		Spec: jobs.Spec{FileName: u.name, Size: int64(len(u.data)), Format: string(format),
			Kind: u.kind, Metadata: u.metadata, Replace: u.replace},
		File: jobs.File{Data: u.data, Password: u.password},
	})
	if err != nil {
		fail(c, err)
		return
	}
	s.audit(c, "document.upload", k.Name+"/"+u.name, map[string]any{
		"job_id": j.ID, "size_bytes": len(u.data), "format": format, "kind": u.kind,
	})
	c.Header("Location", "/v1/jobs/"+strconv.FormatInt(j.ID, 10))
	c.JSON(http.StatusAccepted, gin.H{"job": jobView(j)})
}

// readUpload streams the multipart form: the file up to MaxUploadBytes, the other fields
// up to maxFieldBytes each.
func (s *Server) readUpload(r *http.Request) (upload, error) {
	u := upload{kind: "auto"}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "multipart/form-data" {
		return u, badRequest("send the file as multipart/form-data with a file field",
			"请以 multipart/form-data 上传，文件字段名为 file")
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return u, badRequest("malformed multipart body", "multipart 请求体格式错误")
	}
	var haveFile bool
	var metadata string
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return u, bodyError(err, s.deps.MaxUploadBytes)
		}
		switch field := part.FormName(); field {
		case "file":
			if haveFile {
				return u, invalid("send one file per upload", "每次上传一个文件")
			}
			haveFile = true
			u.name = filepath.Base(strings.ReplaceAll(part.FileName(), `\`, "/"))
			if u.name == "" || u.name == "." || u.name == "/" {
				u.name = "upload"
			}
			if u.data, err = readPart(part, s.deps.MaxUploadBytes); err != nil {
				return u, bodyError(err, s.deps.MaxUploadBytes)
			}
		case "kind", "metadata", "password", "replace":
			b, err := readPart(part, maxFieldBytes)
			if errors.Is(err, errPartTooLarge) {
				return u, invalid(fmt.Sprintf("%s: longer than %d bytes", field, maxFieldBytes), fmt.Sprintf("%s 超过 %d 字节", field, maxFieldBytes))
			}
			if err != nil {
				return u, bodyError(err, s.deps.MaxUploadBytes)
			}
			v := string(b)
			switch field {
			case "kind":
				if v = strings.TrimSpace(v); v != "" {
					u.kind = v
				}
			case "metadata":
				metadata = v
			case "password":
				u.password = v
			case "replace":
				if v = strings.TrimSpace(v); v != "" {
					if u.replace, err = strconv.ParseBool(v); err != nil {
						return u, invalid(fmt.Sprintf("replace: want true or false, got %q", v), "replace 只能是 true 或 false")
					}
				}
			}
		default:
			_, _ = io.Copy(io.Discard, part) // fields of other clients are ignored
		}
	}
	if !haveFile {
		return u, invalid("file is required (multipart field \"file\")", "缺少文件（multipart 字段 file）")
	}
	if len(u.data) == 0 {
		return u, invalid(fmt.Sprintf("file %s is empty", u.name), fmt.Sprintf("文件 %s 为空", u.name))
	}
	if !jobs.ValidKind(u.kind) {
		return u, invalid(fmt.Sprintf("kind: want one of %s, got %q", strings.Join(jobs.Kinds, ", "), u.kind),
			fmt.Sprintf("kind 只能是 %s", strings.Join(jobs.Kinds, "、")))
	}
	if strings.TrimSpace(metadata) != "" {
		dec := json.NewDecoder(strings.NewReader(metadata))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil || dec.More() {
			return u, badRequest("metadata: not valid JSON", "metadata 不是合法的 JSON")
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return u, invalid("metadata: want a JSON object such as {\"brand\":\"…\"}", "metadata 必须是 JSON 对象")
		}
		u.metadata = obj
	}
	return u, nil
}

var errPartTooLarge = errors.New("part too large")

// readPart reads a part whole, failing once it passes limit bytes.
func readPart(part *multipart.Part, limit int64) ([]byte, error) {
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(part, limit+1))
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, errPartTooLarge
	}
	return buf.Bytes(), nil
}

// bodyError maps a failure reading the upload: past the limit is 413, anything else a
// broken body (400).
func bodyError(err error, limit int64) error {
	var mbe *http.MaxBytesError
	if errors.Is(err, errPartTooLarge) || errors.As(err, &mbe) {
		return uploadTooLarge(limit)
	}
	return badRequest("the upload was cut off or is malformed", "上传中断或格式错误")
}
