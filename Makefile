# ocinit: `make run` boots the demo job in QEMU, `make check` installs what is missing and runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

NODE := node_modules/.bin/node
# Debian packages the build, the tests and the benchmarks use.
DEBIAN_PACKAGES := qemu-system-x86 qemu-utils busybox-static crun skopeo umoci docker-registry \
	dnsmasq-base iproute2 apache2-utils ipxe-qemu zstd xz-utils lz4 cpio kmod binutils file \
	debootstrap e2fsprogs fdisk ca-certificates curl procps time attr openssl chrony tinyproxy catatonit \
	radosgw ceph-mon ceph-osd python3-boto3 rclone nbd-server gcc libc6-dev
# Bring your own kernel: KERNEL=path/to/vmlinuz MODULES=path/to/lib/modules/VERSION
KERNEL ?=
MODULES ?=
# Initramfs compression: zstd (default), xz, lz4, gzip or none; LEVEL overrides the default level.
COMPRESS ?= zstd
LEVEL ?=
INITRD := build/initrd.cpio$(if $(filter none,$(COMPRESS)),,.$(patsubst gzip,gz,$(patsubst zstd,zst,$(COMPRESS))))
# Target architecture. Only x86_64 is built so far: refusing another beats building x86_64 silently.
# (Checked when given to make, so that an ARCH a kernel build left in the environment does not matter.)
ifeq ($(origin ARCH),command line)
ifeq ($(filter $(ARCH),x86_64 amd64),)
$(error ARCH=$(ARCH): this Makefile builds only ARCH=x86_64 (amd64); arm64 is not built yet)
endif
endif
# Kernel modules: all (every Ethernet, USB host and block controller driver) or qemu (modules.txt only, smaller).
DRIVERS ?= all
ifeq ($(filter $(DRIVERS),all qemu),)
$(error DRIVERS=$(DRIVERS): want all or qemu)
endif
# A /lib/firmware tree for the drivers (rtl_nic/, i915/, ...), added as is.
FIRMWARE ?=
# A containers-policy.json built in: every image must satisfy it (docs/security.md); its keys are copied in.
POLICY ?=
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
export SOURCE_DATE_EPOCH

SOURCES := $(shell find src -name '*.ts' 2>/dev/null) build.mjs package-lock.json
INITRD_INPUTS := $(wildcard initrd/*.ts initrd/*.sh initrd/*.txt) $(shell find initrd/rootfs -type f 2>/dev/null)

FORCE:
.PHONY: help deps build initrd check typecheck test run bench clean

help:
	@echo 'make run      boot the demo job in QEMU (local registry, demo image; IMAGE=skopeo-source CMD=command)'
	@echo 'make check    install what is missing, type-check, build and run every test'
	@echo 'make build    bundle dist/init.js and dist/cli.js'
	@echo 'make initrd   build build/vmlinuz and $(INITRD) (KERNEL=, MODULES=, COMPRESS=, LEVEL=, DRIVERS=all|qemu, FIRMWARE=DIR, POLICY=policy.json)'
	@echo 'make bench    run the benchmarks in bench/ (boot, pull, overlap, net, run, cache, volumes, drivers, fleet)'

# Debian packages first (a fresh Debian 12 may not even have npm), then node_modules from the lock file.
deps: build/.debian-deps node_modules/.package-lock.json

build/.debian-deps: Makefile
	@mkdir -p build
	@missing=$$(for p in $(DEBIAN_PACKAGES) $$(command -v npm >/dev/null || echo npm); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@touch $@

node_modules/.package-lock.json: package-lock.json | build/.debian-deps
	npm ci --no-audit --no-fund

build: dist/init.js

dist/init.js dist/cli.js &: $(SOURCES) | node_modules/.package-lock.json
	npm run --silent build

ifeq ($(KERNEL)$(MODULES),)
KERNEL_DIR := build/kernel
build/kernel/vmlinuz: | build/.debian-deps
	@mkdir -p build
	initrd/fetch-kernel build/kernel
KERNEL_IMAGE := build/kernel/vmlinuz
MODULES_DIR = $$(echo build/kernel/modules/*)
else
ifeq ($(KERNEL),)
$(error MODULES= needs KERNEL= too)
endif
ifeq ($(MODULES),)
$(error KERNEL= needs MODULES= (the lib/modules/VERSION directory for that kernel))
endif
KERNEL_IMAGE := $(KERNEL)
MODULES_DIR := $(MODULES)
endif

build/vmlinuz: $(KERNEL_IMAGE)
	cp $< $@

# The ioctls Node lacks, for fscrypt volumes and b2c.nbd (src/system/): static, so they need no
# library in the initramfs.
HELPERS := build/ocinit-fscrypt build/ocinit-nbd
build/ocinit-%: initrd/ocinit-%.c | build/.debian-deps
	@mkdir -p build
	gcc -static -Os -s -Wall -Wextra -Werror -o $@ $<

# Rewritten only when DRIVERS, FIRMWARE or POLICY change, so that changing them rebuilds the initramfs.
build/.initrd-options: FORCE
	@mkdir -p build
	@echo 'DRIVERS=$(DRIVERS) FIRMWARE=$(FIRMWARE) POLICY=$(POLICY)' | cmp -s - $@ || echo 'DRIVERS=$(DRIVERS) FIRMWARE=$(FIRMWARE) POLICY=$(POLICY)' >$@

$(INITRD): dist/init.js $(INITRD_INPUTS) $(HELPERS) $(KERNEL_IMAGE) build/.initrd-options $(if $(FIRMWARE),$(shell find $(FIRMWARE) -type f)) $(POLICY) | build/.debian-deps
	$(NODE) initrd/build.ts --modules $(MODULES_DIR) --out $@ --compress $(COMPRESS) $(if $(LEVEL),--level $(LEVEL)) --drivers $(DRIVERS) $(if $(FIRMWARE),--firmware $(FIRMWARE)) $(if $(POLICY),--policy $(POLICY))

initrd: build/vmlinuz $(INITRD)

typecheck: | node_modules/.package-lock.json
	npx tsc --noEmit -p .

test: initrd
	npx vitest run

check: deps typecheck initrd
	npx vitest run

run: deps initrd
	qemu/demo $(if $(IMAGE),--image "$$IMAGE") $(if $(CMD),--cmd "$$CMD")

# Each benchmark measures ocinit beside a peer in the same run and prints medians and ratios.
bench: deps initrd
	bench/boot
	bench/pull
	bench/overlap
	bench/net
	bench/run
	bench/cache
	bench/volumes
	bench/drivers
	bench/fleet

clean:
	rm -rf dist build
