# ocinit: `make run` boots the demo job in QEMU, `make check` installs what is missing and runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

NODE := node_modules/.bin/node
# Debian packages the build, the tests and the benchmarks use.
DEBIAN_PACKAGES := qemu-system-x86 qemu-utils busybox-static crun skopeo umoci docker-registry \
	dnsmasq-base iproute2 apache2-utils ipxe-qemu zstd xz-utils lz4 cpio kmod binutils file \
	debootstrap e2fsprogs fdisk ca-certificates curl procps time attr openssl chrony tinyproxy catatonit \
	radosgw ceph-mon ceph-osd python3-boto3 rclone nbd-server gcc libc6-dev erofs-utils cryptsetup-bin \
	qemu-system-arm qemu-user-static gcc-aarch64-linux-gnu libc6-dev-arm64-cross podman conmon swtpm \
	squashfs-tools
# Bring your own kernel: KERNEL=path/to/vmlinuz MODULES=path/to/lib/modules/VERSION
KERNEL ?=
MODULES ?=
# Target architecture: x86_64 (default, into build/) or arm64 (into build/arm64/, from Debian's arm64
# packages, Node's arm64 runtime and qemu-user). Only ARCH given to make counts, so that an ARCH a
# kernel build left in the environment does not matter.
TARGET := x86_64
ifeq ($(origin ARCH),command line)
ifneq ($(filter $(ARCH),x86_64 amd64),)
TARGET := x86_64
else ifneq ($(filter $(ARCH),arm64 aarch64),)
TARGET := arm64
else
$(error ARCH=$(ARCH): this Makefile builds ARCH=x86_64 (amd64) or ARCH=arm64 (aarch64))
endif
endif
ifeq ($(TARGET),arm64)
OUT := build/arm64
CC_TARGET := aarch64-linux-gnu-gcc
# Busybox, crun, e2fsprogs... and their libraries come from Debian's arm64 packages, unpacked here.
SYSROOT := $(OUT)/sysroot
TARGET_NODE := $(OUT)/node/bin/node
TARGET_INPUTS := $(SYSROOT)/.done $(TARGET_NODE)
TARGET_OPTIONS := --arch arm64 --sysroot $(SYSROOT) --node $(TARGET_NODE)
else
OUT := build
CC_TARGET := gcc
SYSROOT :=
TARGET_INPUTS :=
TARGET_OPTIONS :=
endif
# Initramfs compression: zstd (default), xz, lz4, gzip or none; LEVEL overrides the default level.
COMPRESS ?= zstd
LEVEL ?=
INITRD := $(OUT)/initrd.cpio$(if $(filter none,$(COMPRESS)),,.$(patsubst gzip,gz,$(patsubst zstd,zst,$(COMPRESS))))
# Kernel modules: all (every Ethernet, USB host and block controller driver) or qemu (modules.txt only, smaller).
DRIVERS ?= all
ifeq ($(filter $(DRIVERS),all qemu),)
$(error DRIVERS=$(DRIVERS): want all or qemu)
endif
# Node, libraries, tools and modules in a compressed image /init mounts (squashfs or erofs), or none
# (everything in the cpio, for a kernel without loop or those file systems).
RUNTIME_IMAGE ?= squashfs
ifeq ($(filter $(RUNTIME_IMAGE),squashfs squashfs-lz4 erofs none),)
$(error RUNTIME_IMAGE=$(RUNTIME_IMAGE): want squashfs, squashfs-lz4, erofs or none)
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
.PHONY: help deps build initrd initrd-arm64 check typecheck test run bench clean

help:
	@echo 'make run      boot the demo job in QEMU (local registry, demo image; IMAGE=skopeo-source CMD=command)'
	@echo 'make check    install what is missing, type-check, build and run every test'
	@echo 'make build    bundle dist/init.js and dist/cli.js'
	@echo 'make initrd   build build/vmlinuz and build/initrd.cpio.zst (KERNEL=, MODULES=, COMPRESS=, LEVEL=, DRIVERS=all|qemu, FIRMWARE=DIR, POLICY=policy.json, RUNTIME_IMAGE=squashfs|squashfs-lz4|erofs|none)'
	@echo '              ARCH=arm64: build/arm64/vmlinuz and build/arm64/initrd.cpio.zst (qemu/run --arch arm64 boots them)'
	@echo 'make bench    run the benchmarks in bench/ (boot, pull, overlap, net, run, cache, volumes, drivers, fleet, verity, boot-vs-podman)'

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
KERNEL_DIR := $(OUT)/kernel
$(OUT)/kernel/vmlinuz: | build/.debian-deps
	@mkdir -p $(OUT)
	initrd/fetch-kernel $(OUT)/kernel $(if $(filter arm64,$(TARGET)),arm64,amd64)
KERNEL_IMAGE := $(OUT)/kernel/vmlinuz
MODULES_DIR = $$(echo $(OUT)/kernel/modules/*)
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

$(OUT)/vmlinuz: $(KERNEL_IMAGE)
	cp $< $@

ifneq ($(SYSROOT),)
# Another architecture's programs and libraries: its Debian packages, unpacked (never installed).
$(SYSROOT)/.done: initrd/sysroot.ts initrd/apt-depends.ts initrd/target.ts initrd/foreign-apt | build/.debian-deps node_modules/.package-lock.json
	$(NODE) initrd/sysroot.ts --arch $(TARGET) --dir $(OUT)
	@touch $@

# Its Node runtime: the tarball package-lock.json pins (version and integrity), fetched with npm pack.
$(TARGET_NODE): package-lock.json initrd/fetch-node.ts initrd/node-runtime.ts | node_modules/.package-lock.json
	$(NODE) initrd/fetch-node.ts --arch $(TARGET) --dir $(OUT)/node
	@touch $@
endif

# The ioctls Node lacks, for fscrypt volumes, b2c.nbd and dm-verity roots (src/system/): static, so
# they need no library in the initramfs.
HELPERS := $(OUT)/ocinit-fscrypt $(OUT)/ocinit-nbd $(OUT)/ocinit-dm
$(OUT)/ocinit-%: initrd/ocinit-%.c | build/.debian-deps
	@mkdir -p $(OUT)
	$(CC_TARGET) -static -Os -s -Wall -Wextra -Werror -o $@ $<

# Rewritten only when DRIVERS, FIRMWARE, POLICY or RUNTIME_IMAGE change, so that changing them rebuilds the initramfs.
$(OUT)/.initrd-options: FORCE
	@mkdir -p $(OUT)
	@echo 'DRIVERS=$(DRIVERS) FIRMWARE=$(FIRMWARE) POLICY=$(POLICY) RUNTIME_IMAGE=$(RUNTIME_IMAGE)' | cmp -s - $@ || echo 'DRIVERS=$(DRIVERS) FIRMWARE=$(FIRMWARE) POLICY=$(POLICY) RUNTIME_IMAGE=$(RUNTIME_IMAGE)' >$@

$(INITRD): dist/init.js $(INITRD_INPUTS) $(HELPERS) $(KERNEL_IMAGE) $(TARGET_INPUTS) $(OUT)/.initrd-options $(if $(FIRMWARE),$(shell find $(FIRMWARE) -type f)) $(POLICY) | build/.debian-deps
	$(NODE) initrd/build.ts --modules $(MODULES_DIR) --out $@ --compress $(COMPRESS) $(if $(LEVEL),--level $(LEVEL)) --drivers $(DRIVERS) --runtime-image $(RUNTIME_IMAGE) $(if $(FIRMWARE),--firmware $(FIRMWARE)) $(if $(POLICY),--policy $(POLICY)) $(TARGET_OPTIONS)

initrd: $(OUT)/vmlinuz $(INITRD)

# The arm64 initramfs, whatever ARCH says: the arm64 tests boot it (test/boot/arm64.test.ts).
initrd-arm64:
	$(MAKE) initrd ARCH=arm64

typecheck: | node_modules/.package-lock.json
	npx tsc --noEmit -p .

test: initrd initrd-arm64
	npx vitest run

check: deps typecheck initrd initrd-arm64
	npx vitest run

run: deps initrd
	qemu/demo $(if $(IMAGE),--image "$$IMAGE") $(if $(CMD),--cmd "$$CMD")

# Each benchmark measures ocinit beside a peer in the same run and prints medians and ratios.
bench: deps initrd initrd-arm64
	bench/boot --arch x86_64 --arch arm64
	bench/pull
	bench/overlap
	bench/net
	bench/run
	bench/run --arch arm64
	bench/cache
	bench/volumes
	bench/drivers
	bench/fleet
	bench/verity
	bench/boot-vs-podman

clean:
	rm -rf dist build
