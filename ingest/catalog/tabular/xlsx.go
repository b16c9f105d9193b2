package tabular

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/zhiku/zhiku/internal/kb"
)

// xlsxXMLInMemory is the largest worksheet excelize keeps in memory; bigger ones stream
// through a temporary file.
const xlsxXMLInMemory = 16 << 20

func readXLSX(data []byte, opts Options) (*Table, error) {
	limit := opts.maxUnzip()
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{
		UnzipSizeLimit:    limit,
		UnzipXMLSizeLimit: min(limit, xlsxXMLInMemory),
	})
	if err != nil {
		if strings.Contains(err.Error(), "unzip size exceeds") {
			return nil, kb.TooLarge(fmt.Sprintf("workbook unpacks to more than %d bytes", limit), fmt.Sprintf("工作簿解压后超过 %d 字节", limit))
		}
		return nil, kb.Invalid("not a readable XLSX workbook", fmt.Sprintf("无法读取 XLSX 工作簿 (%v)", err))
	}
	defer f.Close()

	date1904 := false
	if props, err := f.GetWorkbookProps(); err == nil && props.Date1904 != nil {
		date1904 = *props.Date1904
	}
	t := &Table{Format: XLSX}
	merges := mayHaveMerges(f)
	total := 0
	for _, name := range f.GetSheetList() {
		if visible, err := f.GetSheetVisible(name); err == nil && !visible {
			continue // hidden sheets hold lookup lists, not products
		}
		sh, err := readWorksheet(opts.ctx(), f, name, date1904, merges, opts.maxRows()-total)
		if errors.Is(err, ErrTooManyRows) {
			return nil, tooMany(opts.maxRows()) // the budget left for this sheet would mislead
		}
		if err != nil {
			return nil, fmt.Errorf("sheet %q: %w", name, err)
		}
		if len(sh.Rows) == 0 {
			continue
		}
		total += len(sh.Rows)
		t.Sheets = append(t.Sheets, sh)
	}
	if len(t.Sheets) == 0 {
		return nil, kb.Invalid("workbook has no data rows", "工作簿没有数据行")
	}
	return t, nil
}

// readWorksheet reads one sheet within a budget of data rows. Cells carry Excel's cached
// values (formulas are not recalculated); numbers come raw, so "¥1,299.00" reads as
// "1299", except date-formatted cells, which become ISO dates.
func readWorksheet(ctx context.Context, f *excelize.File, sheet string, date1904, withMerges bool, budget int) (Sheet, error) {
	limit := budget + 20 // room for title and header rows
	raw, err := sheetGrid(ctx, f, sheet, excelize.Options{RawCellValue: true}, limit)
	if err != nil {
		return Sheet{}, err
	}
	if len(raw) == 0 {
		return Sheet{Name: sheet}, nil
	}
	shown, err := sheetGrid(ctx, f, sheet, excelize.Options{}, limit)
	if err != nil {
		return Sheet{}, err
	}
	for i, row := range raw {
		for j, v := range row {
			if i < len(shown) && j < len(shown[i]) {
				row[j] = cellValue(v, shown[i][j], date1904)
			}
		}
	}
	var merges []excelize.MergeCell
	if withMerges {
		if merges, err = f.GetMergeCells(sheet, true); err != nil {
			return Sheet{}, fmt.Errorf("read merged cells: %w", err)
		}
	}
	rects := make([]rect, 0, len(merges))
	for _, m := range merges {
		if r, ok := parseRect(m.GetStartAxis(), m.GetEndAxis()); ok {
			rects = append(rects, r)
		}
	}
	// Choose the header before filling merges: a title merged across the top row has only
	// one real cell and must not look like a full header row.
	nums := make([]int, len(raw))
	for i := range nums {
		nums[i] = i + 1
	}
	h := headerIndex(raw)
	twoRow := false
	for _, r := range rects {
		if r.top == h && r.right > r.left && r.bottom == h && h+1 < len(raw) {
			twoRow = true // a header cell spanning columns groups the sub-headers below it
		}
	}
	fillMerges(raw, rects)
	if twoRow {
		top, sub := raw[h], raw[h+1]
		width := max(len(top), len(sub))
		top, sub = pad(top, width), pad(sub, width)
		combined := make([]string, width)
		for c := range width {
			t, s := strings.TrimSpace(top[c]), strings.TrimSpace(sub[c])
			switch {
			case s == "" || s == t:
				combined[c] = t
			case t == "":
				combined[c] = s
			default:
				combined[c] = t + "/" + s
			}
		}
		// Drop the title rows and the sub-header; keep the combined header in the header's place.
		raw = append([][]string{combined}, raw[h+2:]...)
		nums = append([]int{nums[h]}, nums[h+2:]...)
	} else {
		raw, nums = raw[h:], nums[h:]
	}
	sh := gridSheet(sheet, raw, nums)
	if len(sh.Rows) > budget {
		return Sheet{}, tooMany(budget)
	}
	return sh, nil
}

// mayHaveMerges reports whether any worksheet may hold merged cells. Reading merges makes
// excelize parse a whole worksheet into memory, about as costly as reading its rows, so
// workbooks without any (most system exports) skip it. Worksheets too large to be held in
// memory are not visible here, and count as maybe.
func mayHaveMerges(f *excelize.File) bool {
	inMemory, found := 0, false
	f.Pkg.Range(func(k, v any) bool {
		name, _ := k.(string)
		if !strings.HasPrefix(name, "xl/worksheets/sheet") {
			return true
		}
		inMemory++
		if b, ok := v.([]byte); !ok || bytes.Contains(b, []byte("mergeCell")) {
			found = true
			return false
		}
		return true
	})
	return found || inMemory < f.SheetCount
}

// sheetGrid streams a sheet's rows, at most limit of them (then ErrTooManyRows).
func sheetGrid(ctx context.Context, f *excelize.File, sheet string, o excelize.Options, limit int) ([][]string, error) {
	rows, err := f.Rows(sheet)
	if err != nil {
		return nil, fmt.Errorf("open rows: %w", err)
	}
	defer rows.Close()
	var grid [][]string
	for rows.Next() {
		if kb.Stopped(ctx, len(grid)) != nil {
			return nil, ctx.Err()
		}
		cells, err := rows.Columns(o)
		if err != nil {
			return nil, fmt.Errorf("row %d: %w", len(grid)+1, err)
		}
		if len(grid) >= limit && !blank(cells) {
			return nil, tooMany(limit - 20)
		}
		grid = append(grid, cells)
	}
	if err := rows.Error(); err != nil {
		if errors.Is(err, excelize.ErrMaxRows) {
			return nil, tooMany(limit - 20)
		}
		return nil, fmt.Errorf("read rows: %w", err)
	}
	// Trailing empty rows (formatting only) are noise.
	for len(grid) > 0 && blank(grid[len(grid)-1]) {
		grid = grid[:len(grid)-1]
	}
	return grid, nil
}

// cellValue reconciles a cell's raw and displayed values: a number whose display looks like
// a date is an Excel serial date and becomes ISO 8601; any other number stays raw.
func cellValue(raw, shown string, date1904 bool) string {
	if raw == shown || raw == "" {
		return raw
	}
	serial, err := strconv.ParseFloat(raw, 64)
	if err != nil || !looksLikeDate(shown) {
		return raw
	}
	tm, err := excelize.ExcelDateToTime(serial, date1904)
	if err != nil {
		return raw
	}
	switch {
	case serial == float64(int64(serial)):
		return tm.Format("2006-01-02")
	case serial < 1:
		return tm.Format("15:04:05")
	}
	return tm.Format("2006-01-02T15:04:05")
}

// looksLikeDate: a displayed value with date or time separators and no letters other than
// month names' is a formatted date; "1,299.00" and "15%" are not.
func looksLikeDate(s string) bool {
	if !strings.ContainsAny(s, "-/年月日:") {
		return false
	}
	digits := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			digits++
		}
	}
	return digits >= 2
}

// rect is a merged range in 0-based grid coordinates, inclusive.
type rect struct{ top, left, bottom, right int }

func parseRect(start, end string) (rect, bool) {
	c1, r1, err1 := excelize.CellNameToCoordinates(start)
	c2, r2, err2 := excelize.CellNameToCoordinates(end)
	if err1 != nil || err2 != nil {
		return rect{}, false
	}
	return rect{top: r1 - 1, left: c1 - 1, bottom: r2 - 1, right: c2 - 1}, true
}

// fillMerges copies each merged range's top-left value into every cell it covers, so a
// category merged down a column or a header merged across columns applies to each.
func fillMerges(grid [][]string, rects []rect) {
	width := 0
	for _, row := range grid {
		width = max(width, len(row))
	}
	for _, r := range rects {
		r.right = min(r.right, width-1) // a merge may run to column XFD; data never does
		if r.top >= len(grid) || r.left >= len(grid[r.top]) {
			continue
		}
		v := grid[r.top][r.left]
		if v == "" {
			continue
		}
		for i := r.top; i <= r.bottom && i < len(grid); i++ {
			if len(grid[i]) <= r.right {
				grid[i] = pad(grid[i], r.right+1)
			}
			for j := r.left; j <= r.right; j++ {
				grid[i][j] = v
			}
		}
	}
}
