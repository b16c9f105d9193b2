// Package faq reads curated question-and-answer files — CSV, XLSX or JSON/JSONL exports of
// a customer-service team's standard questions — into entries with their similar phrasings,
// category and tags, ready to become curated answers.
//
// Columns are recognised from common Chinese and English headers (问题/标准问题/question,
// 答案/回复/标准答案/answer, 相似问题/相似问法/similar questions, 分类/category, 标签/tags).
// A cell of similar questions may separate them by newlines, "|", "；", ";" or be a JSON array.
package faq
