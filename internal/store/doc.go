// Package store owns every SQL statement Zhiku runs. Methods take context first, use $n
// parameters only, and map database outcomes onto the sentinel errors of package kb.
package store
