//go:build !openblas

// Package cblas is the cgo binding to the system OpenBLAS's cblas_sgemm; it
// is empty unless built with the openblas tag.
package cblas
