# The two commands: `make run` and `make test`. Each builds .venv when it is missing.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-scale tempest venv clean distclean sample-config bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,keystone]'
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/sharebackup serve

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile -q -rfEs --tb=short -m "not scale"

# the scale tier (minutes of real time: policies on 2 API + 2 worker processes, a simulated
# month of schedules, a 1 GiB download, the OSC plugin through the real `openstack` CLI); kept
# out of `make test`'s 10 minutes, run by .ci/run after it
test-scale: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist load -q -rfEs --tb=short -m scale

# manila-tempest-plugin's 11 share-backup tests against a real Keystone and `sharebackup serve`
tempest: $(STAMP)
	$(BIN)/python tests/tempest/run_tempest.py

# our engine's backup and restore with the caches dropped before each step (root: drop_caches);
# BASE=REV runs that revision side by side (`make bench BASE=df3d0fd`: by fd against by path).
# Not part of `make test`: about 1.5 GB of data and minutes of I/O, results in benchmarks/results/
bench: $(STAMP)
	$(BIN)/python benchmarks/compare_revisions.py --work var/bench $(if $(BASE),--base $(BASE)) $(BENCH_ARGS)

sample-config: $(STAMP)
	$(BIN)/sharebackup config sample > etc/sharebackup.conf.sample

clean:
	rm -rf $(VENV) var

# also the test-only virtualenvs (Keystone, tempest) that the tests build once under .cache/
distclean: clean
	rm -rf .cache
