// Command br2kvet runs br2k's analysis of replicated and onlyonce handlers
// (package br2kvet) as a go vet tool:
//
//	go install github.com/br2k/br2k/cmd/br2kvet
//	go vet -vettool=$(which br2kvet) ./...
//
// It reports the same problems as br2kgen (misspelt directives,
// nondeterminism in //br2k:replicate handlers, state writes in
// //br2k:onlyonce handlers), with their codes, and stays silent on packages
// without br2k directives.
package main

import (
	"golang.org/x/tools/go/analysis/unitchecker"

	"github.com/br2k/br2k/br2kvet"
)

func main() { unitchecker.Main(br2kvet.Analyzer) }
