# PHIGuard: the two commands a new developer needs are `make demo` and `make test`.
# Both install what is missing first (Debian packages, the interop virtualenv).

SWIFT ?= swift
PYTHON := $(CURDIR)/.venv-interop/bin/python
SBOM := $(CURDIR)/.build/sbom/PHIGuard.cdx.json

.PHONY: demo web test deps venv lint checks build bench docs sbom sbom-check licenses fuzz tsan clean browser-tests

## Runs the demo: a scripted walk through the patient portal (installs Debian packages first if needed).
demo: deps
	SWIFT=$(SWIFT) scripts/portal-demo.sh

## Serves the web patient portal on 127.0.0.1:$(PORT) (default 8080): a seeded demo hospital in a temp folder.
PORT ?= 8080
web: deps
	$(SWIFT) run WebPortal --port $(PORT)

## Runs the whole test suite: format lint, build, all tests (with PostgreSQL and the Python peers).
test: deps venv lint checks
	SWIFT=$(SWIFT) PHIGUARD_PYTHON=$(PYTHON) scripts/with-test-postgres.sh scripts/run-tests.sh

## Real-browser end-to-end tests: headless Debian Chromium + Selenium against the Quickstart and the web
## portal on loopback (installs chromium and chromium-driver when missing; reuses the debug build `make test`
## made). Screenshots and server logs: .build/browser-screenshots.
browser-tests: venv
	SWIFT=$(SWIFT) scripts/browser-tests.sh

deps:
	@scripts/install-dependencies.sh

venv: deps
	@scripts/interop-venv.sh

## Format lint, and the C-library boundary: C modules only in their wrappers, libsodium results checked.
lint:
	scripts/check-c-imports.sh
	$(SWIFT) format lint --strict --recursive Package.swift Sources Tests Examples Benchmarks/Package.swift Benchmarks/Benchmarks \
		Fuzz/Package.swift Fuzz/Sources

## Structure checks: every target declares exactly what it imports; the umbrella re-exports what it links;
## every test the documentation cites exists; the integration guide's samples match the test that runs them.
checks:
	python3 scripts/check-manifest.py $(SWIFT)
	python3 scripts/check-doc-test-names.py
	python3 scripts/check-guide-samples.py

build: deps
	$(SWIFT) build

## Fuzzes every parser for FUZZ_SECONDS each (libFuzzer + AddressSanitizer; seeds in Fuzz/Corpus).
FUZZ_SECONDS ?= 60
fuzz: deps
	SWIFT=$(SWIFT) Fuzz/run.sh $(FUZZ_SECONDS)

## Runs the concurrency suites under ThreadSanitizer (a separate build in .build-tsan): rate limits,
## lockout, session stores, audit log and sinks, engine swap, store conformance, the SQLite gate.
## In-process backends only (memory, SQLite): under TSan's slowdown the PostgreSQL suites hit their
## deadlines, and their concurrency is the server's. The two timing tests the filter also matches
## (sign-in, recovery) are skipped: they compare wall-clock times, which TSan's slowdown distorts.
## Every lock in Sources is PHIGuardCrypto's `Locked` (pthread), which TSan models;
## `Synchronization.Mutex` (futex) it does not.
TSAN_SUITES := RateLimit|Lockout|SessionStore|AuditLogTests|AuditSinkTests|ConcurrencyTests|Conformance|SQLiteDatabase
tsan: deps venv
	TSAN_OPTIONS=suppressions=$(CURDIR)/scripts/tsan-suppressions.txt PHIGUARD_PYTHON=$(PYTHON) \
		scripts/swift-test-summary.sh $(SWIFT) test --sanitize=thread --scratch-path .build-tsan --filter '$(TSAN_SUITES)' \
		--skip 'PHIGuardPostgresTests|comparableTiming|recoveryTiming'

## Runs the benchmarks and the peer comparisons (see Benchmarks/README.md).
bench: venv
	@PHIGUARD_WITH_BENCH_TOOLS=1 scripts/install-dependencies.sh
	cd Benchmarks && ../scripts/with-test-postgres.sh $(SWIFT) package --disable-sandbox benchmark
	Benchmarks/peers/run.sh

## Converts every DocC catalog and fails on any warning (broken links, undocumented parameters).
docs: deps
	SWIFT=$(SWIFT) scripts/check-docs.sh

## Writes the CycloneDX 1.6 SBOM (Swift packages, linked Debian libraries, VEX); its path is the last line.
## Resolves packages (`swift package resolve`) when needed; builds nothing.
sbom: venv
	@SWIFT=$(SWIFT) $(PYTHON) scripts/sbom.py --output $(SBOM)

## Validates the SBOM against the CycloneDX 1.6 schema.
sbom-check: sbom
	$(PYTHON) scripts/sbom-check.py $(SBOM)

## Regenerates Documentation/ThirdPartyLicenses.md from the SBOM.
licenses: sbom
	$(PYTHON) scripts/third-party-licenses.py $(SBOM) > Documentation/ThirdPartyLicenses.md

clean:
	rm -rf .build .build-docs .build-tsan .venv-interop Benchmarks/.build Fuzz/.build
