#!/usr/bin/env bash
# Runs every check CI runs: formatting, vet, staticcheck, and the full test
# suite under the race detector. Module downloads are pinned by go.sum (the
# packaging tool's by packaging/deb/go.sum, staticcheck's by its version).
set -euo pipefail
cd "$(dirname "$0")"

echo "--- gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './build/*'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:" >&2
	echo "$unformatted" >&2
	exit 1
fi

echo "--- go vet"
go vet ./...
go -C packaging/deb vet ./...

echo "--- staticcheck"
staticcheck="honnef.co/go/tools/cmd/staticcheck@v0.8.2"
go run "$staticcheck" ./...
(cd packaging/deb && go run "$staticcheck" ./...)

echo "--- go test -race"
go test -race -count=1 -timeout 10m ./...
