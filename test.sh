#!/usr/bin/env bash
# Runs every check CI runs: formatting, vet, and the full test suite under the
# race detector. Module downloads are pinned by go.sum.
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

echo "--- go test -race"
go test -race -count=1 -timeout 10m ./...
