# crmedge — make run (build and serve on crmedge.db), make test.
GO       ?= go
BIN      := bin/crmedge
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
PLATFORMS := linux/amd64 linux/arm64 windows/amd64 darwin/arm64

.PHONY: all build run test bench cross fuzz clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .

run: build
	./$(BIN) serve --db crmedge.db

# vet, then every test under the race detector (fuzz targets run their seed corpora).
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 15m ./...

# benchmarks: see README "Performance". -p 1: one package at a time, so that
# no package's benchmarks share the 2 cores with another's.
bench:
	$(GO) test -p 1 -run '^$$' -bench . -timeout 60m ./...

cross:
	@set -e; for p in $(PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		echo "build $$os/$$arch"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/crmedge-$$os-$$arch$$ext . ; \
	done

# each Fuzz target for FUZZTIME; the HTTP targets are slow per input, so new
# inputs are minimised for at most FUZZMINIMIZE.
FUZZTIME ?= 30s
FUZZMINIMIZE ?= 5s
fuzz:
	@set -e; for pkg in ./edge; do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) $$pkg; \
		done; \
	done

clean:
	rm -rf bin
