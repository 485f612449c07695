# The two commands of the README (`make run`, `make test`) and their friends.
# Each target installs what it needs (scripts/bootstrap.sh), so a fresh
# Debian 12 machine needs nothing else.

BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
# ccache hits across clones (CI builds a fresh clone): paths relative to here.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1

.PHONY: all bootstrap configure build test run bench format asan tsan clean \
        agent-static package package-test cli-docs

all: build

bootstrap:
	@scripts/bootstrap.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

configure: bootstrap $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# The fully static agent: one file for any x86-64 Linux from kernel 3.10 on
# (docs/packaging.md). `make build` makes it too.
agent-static: configure
	cmake --build $(BUILD_DIR) --target agent-static -j $(JOBS)
	@ls -l $(BUILD_DIR)/bin/sms-agent-static

# sms-agent_VERSION_amd64.deb and sms-server_VERSION_amd64.deb in
# $(BUILD_DIR)/deb/, checked by lintian (docs/packaging.md).
package: build
	@SMS_BOOTSTRAP_PACKAGE=1 scripts/bootstrap.sh
	packaging/build-debs.sh $(BUILD_DIR) $(BUILD_DIR)/deb

# Both packages installed into a throw-away Debian 12 root (mmdebstrap), the
# server started there, one check run, both purged. Not part of `make test`:
# the first run downloads the root (a few minutes).
package-test: build
	@SMS_BOOTSTRAP_PACKAGE=1 scripts/bootstrap.sh
	cd $(BUILD_DIR) && SMS_TEST_PACKAGE=1 ctest --output-on-failure -R '^package_install$$'

# docs/cli-reference.md from the binaries' option definitions (ctest
# cli_surface fails when it is stale).
cli-docs: build
	python3 tests/cli/cli_surface_test.py $(BUILD_DIR) --write-docs

# Every test: unit, contract and integration (real binaries, real sshd on loopback).
test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# The demo: a pair of generated trees with known differences, verified.
run: build
	@scripts/demo.sh $(BUILD_DIR)

# Side-by-side benchmarks: sms-agent against rsync, rclone, hashdeep, diff and
# the hashing floor; sms-server against nginx serving the same body (wrk).
bench:
	@SMS_BOOTSTRAP_BENCH=1 scripts/bootstrap.sh
	$(MAKE) build
	@scripts/bench.sh $(BUILD_DIR) $(BENCH_ARGS)
	@src/server/bench_server.sh $(BUILD_DIR)
	@src/server/bench_server_pg.sh $(BUILD_DIR)

# The test suite under AddressSanitizer + UndefinedBehaviorSanitizer.
asan:
	$(MAKE) test BUILD_DIR=build-asan BUILD_TYPE=Debug CMAKE_FLAGS=-DSMS_SANITIZE=ON

# The engine and agent tests under ThreadSanitizer (build-tsan/).
tsan:
	$(MAKE) test BUILD_DIR=build-tsan BUILD_TYPE=Debug \
	  CMAKE_FLAGS="-DSMS_TSAN=ON -DSMS_BUILD_SERVER=OFF" \
	  CTEST_ARGS="-E e2e_agent_run"

format:
	find src tests bench -name '*.cc' -o -name '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR)

# libFuzzer targets (fuzz/, clang-14 + libclang-rt-14-dev, ASan+UBSan) in
# build-fuzz/, each run FUZZ_SECONDS from its seed corpus (docs/fuzzing.md).
FUZZ_SECONDS ?= 60
.PHONY: fuzz reliability
fuzz:
	@SMS_BOOTSTRAP_FUZZ=1 scripts/bootstrap.sh
	@command -v clang++-14 >/dev/null || { echo "make fuzz: needs clang-14 and \
	  libclang-rt-14-dev (apt-get install clang-14 libclang-rt-14-dev)"; exit 1; }
	cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
	  -DSMS_FUZZ=ON -DSMS_BUILD_TESTS=OFF
	cmake --build build-fuzz --target fuzz_all -j $(JOBS)
	fuzz/run.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The reliability suite (kill -9, soak, disk full, floods; minutes, loopback
# only; docs/reliability.md). Not part of `make test`.
reliability: build
	python3 tests/reliability/reliability.py $(BUILD_DIR) $(RELIABILITY_ARGS)
