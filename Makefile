PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
DESTDIR ?=
GO ?= go

VERSION ?= $(shell sed -n 's/^var Binary = "\(.*\)"/\1/p' internal/version/version.go)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null)
LDFLAGS := -X github.com/nsqlookupd/nsqlookupd/internal/version.Commit=$(COMMIT)

RUN_ARGS ?= --tcp-address=127.0.0.1:4160 --http-address=127.0.0.1:4161

.PHONY: all build run test install clean dist

all: build

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o build/nsqlookupd ./apps/nsqlookupd

# install uses this rule, which builds only when the binary is missing, so
# "sudo make install" after "make build" needs no Go toolchain as root.
build/nsqlookupd:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o build/nsqlookupd ./apps/nsqlookupd

run: build
	./build/nsqlookupd $(RUN_ARGS)

test:
	./test.sh

install: build/nsqlookupd
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 build/nsqlookupd $(DESTDIR)$(BINDIR)/nsqlookupd

# Expanded only by the targets that use them, so targets such as install run
# no go command at all.
GOOS ?= $(shell $(GO) env GOOS)
GOARCH ?= $(shell $(GO) env GOARCH)
DIST_NAME = nsqlookupd-$(VERSION).$(GOOS)-$(GOARCH)

# A versioned tarball: the binary, README, LICENSE and contrib/.
dist: build
	rm -rf dist/$(DIST_NAME)
	install -d dist/$(DIST_NAME)/bin
	install -m 0755 build/nsqlookupd dist/$(DIST_NAME)/bin/
	cp -R README.md LICENSE contrib dist/$(DIST_NAME)/
	tar -C dist -czf dist/$(DIST_NAME).tar.gz $(DIST_NAME)
	rm -rf dist/$(DIST_NAME)
	@echo dist/$(DIST_NAME).tar.gz

clean:
	rm -rf build dist

# A static Linux binary for the Debian package and the container image:
# without cgo it needs no libc at run time, and it carries no symbol table.
STATIC_DIR ?= build/static
STATIC_BIN = $(STATIC_DIR)/nsqlookupd

.PHONY: static deb image

static:
	CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH) $(GO) build -trimpath -ldflags "$(LDFLAGS) -s -w" -o $(STATIC_BIN) ./apps/nsqlookupd

# The Debian package: the release version for a tagged commit, else the
# release plus the commit (1.3.0+git1a2b3c4), which sorts after the release.
DEB_DIR ?= dist
DEB_MAINTAINER ?= nsqlookupd maintainers <maintainers@nsqlookupd.invalid>
DEB_VERSION ?= $(VERSION)$(if $(shell git describe --tags --exact-match HEAD 2>/dev/null),,$(if $(COMMIT),+git$(COMMIT)))
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null)

# The package builder is a Go module of its own (packaging/deb), so the
# packaging library stays out of the daemon's dependencies.
deb: static
	$(GO) -C packaging/deb run . -repo $(CURDIR) -bin $(abspath $(STATIC_BIN)) \
		-out $(abspath $(DEB_DIR)) -version '$(DEB_VERSION)' -goarch $(GOARCH) \
		-maintainer '$(DEB_MAINTAINER)' $(if $(SOURCE_DATE_EPOCH),-date $(SOURCE_DATE_EPOCH))

# The container image (Containerfile) with podman, or docker where podman is
# missing. Its build context holds only the static binary, so no Go toolchain
# or network is needed inside the build. Image tags allow no "+", so an
# untagged commit is tagged 1.3.0-git1a2b3c4.
CONTAINER_TOOL ?= $(shell command -v podman || command -v docker)
IMAGE ?= nsqlookupd:$(subst +,-,$(DEB_VERSION))
IMAGE_BUILD_FLAGS ?=
IMAGE_CONTEXT = build/image

image: static
	@if [ -z "$(CONTAINER_TOOL)" ]; then echo "make image needs podman or docker" >&2; exit 2; fi
	rm -rf $(IMAGE_CONTEXT)
	install -d $(IMAGE_CONTEXT)
	install -m 0755 $(STATIC_BIN) $(IMAGE_CONTEXT)/nsqlookupd
	$(CONTAINER_TOOL) build $(IMAGE_BUILD_FLAGS) -f Containerfile \
		--build-arg VERSION=$(DEB_VERSION) --build-arg REVISION=$(COMMIT) \
		-t $(IMAGE) $(IMAGE_CONTEXT)

# Benchmark settings: BENCH_WORKLOAD is small, medium, large, all or a
# comma-separated list; BENCH_FLAGS is passed to the load generator as is
# (e.g. BENCH_FLAGS="-duration 20s -pprof-dir build/pprof").
BENCH_WORKLOAD ?= all
BENCH_FLAGS ?=

.PHONY: bench bench-compare bench-tool bench-base bench-attack

bench-tool:
	$(GO) build -o build/loadgen ./bench/loadgen

# Runs the workloads against build/nsqlookupd; see bench/README.md.
bench: build bench-tool
	./build/loadgen -bin build/nsqlookupd -workload $(BENCH_WORKLOAD) -json build/bench.json $(BENCH_FLAGS)

# Runs build/nsqlookupd and $(BASE) through the same workloads side by side.
bench-compare: bench-base build bench-tool
	./build/loadgen -bin build/nsqlookupd -compare $(BASE) -workload $(BENCH_WORKLOAD) -json build/bench-compare.json $(BENCH_FLAGS)

bench-base:
	@if [ ! -f "$(BASE)" ]; then echo "usage: make bench-compare BASE=path/to/other/nsqlookupd" >&2; exit 2; fi

# Replays the resource attacks against $(ATTACK_BIN) with $(ATTACK_DAEMON_ARGS)
# as the daemon's extra flags; see bench/README.md.
ATTACK_BIN ?= build/nsqlookupd
ATTACK_DAEMON_ARGS ?=
ATTACK_FLAGS ?=

bench-attack: build
	$(GO) run ./bench/attack -bin $(ATTACK_BIN) -daemon-args '$(ATTACK_DAEMON_ARGS)' $(ATTACK_FLAGS)
