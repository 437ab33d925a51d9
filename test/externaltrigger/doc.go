// Package pipelinetrigger opens an incident when a release pipeline fails
// and resolves it when the pipeline passes again, through the incidents
// extension's public API (github.com/otel-evidence/otel-evidence/pkg/...).
//
// It stands for what a platform team writes for its own trigger: its module
// path lies outside otel-evidence's, so Go lets it import only
// otel-evidence's public packages, and its tests run it against the real
// incidents extension. The otel-evidence repository builds and tests it as
// one of its modules, so that the public API stays sufficient.
package pipelinetrigger // import "example.com/acme/pipelinetrigger"
