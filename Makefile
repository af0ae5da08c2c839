# qganeti: build (virtualenv), test, install, demo.
#   make            create .venv with the pinned dependencies; compile the htools kernels
#   make check      unit tests (pytest) and command tests (bats)
#   make demo       a one-node cluster under ./demo/ (make demo-clean removes it)
#   make bench      the benchmarks in t/bench/ (they print figures)
#   make install PREFIX=/usr/local DESTDIR=

PREFIX ?= /usr/local
DESTDIR ?=
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python3

bindir := $(PREFIX)/bin
libexecdir := $(PREFIX)/libexec/qganeti
libdir := $(PREFIX)/lib
etcdir := $(PREFIX)/etc
osdir := $(PREFIX)/os
mandir := $(PREFIX)/share/man
venvdir := $(PREFIX)/lib/qganeti-venv

# the htools kernels compiled ahead of time (qganeti.htools.build_kernels)
AOT := lib/qganeti/htools/_kernels_aot.stamp

.PHONY: all check unit bats install demo demo-clean bench clean

all: $(VENV)/.done $(AOT)

$(VENV)/.done: requirements.txt
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --no-input --disable-pip-version-check -r requirements.txt
	# setuptools' .pth hook costs every process start; nothing here needs it
	$(PY) -m pip uninstall --quiet --yes setuptools 2>/dev/null || true
	touch $@

# setuptools (pycc's compiler driver) is wanted at build time only: it goes
# beside the venv, not into it
$(VENV)/build/.done: requirements-build.txt $(VENV)/.done
	rm -rf $(VENV)/build
	$(PY) -m pip install --quiet --no-input --disable-pip-version-check \
		--target $(VENV)/build -r requirements-build.txt
	touch $@

$(AOT): lib/qganeti/htools/kernels.py lib/qganeti/htools/build_kernels.py $(VENV)/build/.done
	PYTHONPATH=$(CURDIR)/lib:$(CURDIR)/$(VENV)/build $(PY) -m qganeti.htools.build_kernels

check: all
	@t/lib/run-checks

unit: all
	$(PY) -m pytest -q t/unit

bats: all
	bats t/*.bats

bench: all
	@for b in t/bench/*; do [ -x "$$b" ] && { echo "== $$b"; "$$b" || exit 1; }; done; true

install: all
	install -d $(DESTDIR)$(bindir) $(DESTDIR)$(libexecdir) $(DESTDIR)$(libdir)/qganeti \
		$(DESTDIR)$(etcdir) $(DESTDIR)$(mandir)/man1 $(DESTDIR)$(mandir)/man8
	cd lib && find qganeti -name __pycache__ -prune -o -type d -print | \
		while read d; do install -d "$(DESTDIR)$(libdir)/$$d"; done
	cd lib && find qganeti -name __pycache__ -prune -o -type f \( -name '*.py' -o -name '_kernels_aot*' \) -print | \
		while read f; do install -m 0644 "$$f" "$(DESTDIR)$(libdir)/$$f"; done
	find bin -maxdepth 1 -type f -perm -u+x -exec install -m 0755 {} $(DESTDIR)$(bindir)/ \;
	cd libexec/qganeti && find . -type d -print | while read d; do install -d "$(DESTDIR)$(libexecdir)/$$d"; done
	cd libexec/qganeti && find . -type f -print | while read f; do \
		if [ -x "$$f" ]; then m=0755; else m=0644; fi; install -m $$m "$$f" "$(DESTDIR)$(libexecdir)/$$f"; done
	cd etc && find . -type d -print | while read d; do install -d "$(DESTDIR)$(etcdir)/$$d"; done
	cd etc && find . -type f -print | while read f; do install -m 0644 "$$f" "$(DESTDIR)$(etcdir)/$$f"; done
	if [ -d os ]; then cd os && find . -type d -print | while read d; do install -d "$(DESTDIR)$(osdir)/$$d"; done; \
		find . -type f -print | while read f; do \
		if [ -x "$$f" ]; then m=0755; else m=0644; fi; install -m $$m "$$f" "$(DESTDIR)$(osdir)/$$f"; done; fi
	for f in man/*.1; do [ -e "$$f" ] && install -m 0644 "$$f" $(DESTDIR)$(mandir)/man1/; done; true
	for f in man/*.8; do [ -e "$$f" ] && install -m 0644 "$$f" $(DESTDIR)$(mandir)/man8/; done; true
	rm -rf $(DESTDIR)$(venvdir)
	$(PYTHON) -m venv $(DESTDIR)$(venvdir)
	$(DESTDIR)$(venvdir)/bin/python3 -m pip install --quiet --no-input --disable-pip-version-check -r requirements.txt
	$(DESTDIR)$(venvdir)/bin/python3 -m pip uninstall --quiet --yes setuptools 2>/dev/null || true
	# programs find the venv through their sh trampoline, relative to themselves, so the
	# installed tree stays relocatable: the checkout's .venv is PREFIX/lib/qganeti-venv
	find $(DESTDIR)$(bindir) $(DESTDIR)$(libexecdir) -type f -perm -u+x | while read f; do \
		sed -i -e '2s|/\.venv/bin/python3"|/lib/qganeti-venv/bin/python3"|' "$$f"; done
	$(DESTDIR)$(venvdir)/bin/python3 -m compileall -q -d $(libdir) $(DESTDIR)$(libdir)/qganeti

DEMO_ENV = QGANETI_ROOT=$(CURDIR)/demo QGANETI_HOSTNAME=node1.example.com

demo: all
	@t/lib/demo $(CURDIR)/demo

demo-clean:
	@if [ -d demo ]; then $(DEMO_ENV) bin/gnt-cluster destroy --yes-do-it >/dev/null 2>&1; \
		$(DEMO_ENV) libexec/qganeti/daemon-util stop-all >/dev/null 2>&1; rm -rf demo; fi; true

clean: demo-clean
	rm -rf $(VENV) .pytest_cache lib/qganeti/htools/_kernels_aot*
	find . -name __pycache__ -prune -exec rm -rf {} +
