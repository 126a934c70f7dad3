# Sourced by scripts/test and scripts/demo: find an interpreter and make a virtual environment.
# Nothing is assumed to be installed beyond a CPython 3.11+ (pyenv versions are found too).

find_python() {
  # find_python 3.12 -> prints a path to a working python3.12, or nothing
  local want="$1" cand root
  root="${PYENV_ROOT:-$HOME/.pyenv}"
  for cand in "python$want" $(ls -d "$root"/versions/"$want".*/bin/python3 2>/dev/null | sort -V -r); do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys, venv' >/dev/null 2>&1; then
      if [ "$("$cand" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" = "$want" ]; then
        command -v "$cand"
        return 0
      fi
    fi
  done
  return 1
}

ensure_venv() {
  # ensure_venv PYTHON DIR GROUP -> a venv at DIR with the project installed (editable) and, when
  # GROUP is given, that dependency group of pyproject.toml (dev, docs). pip >= 25.1 reads groups.
  local py="$1" dir="$2" group="${3:-}" stamp
  stamp="$dir/.installed${group:+-$group}"
  if [ ! -x "$dir/bin/python" ]; then
    "$py" -m venv "$dir"
  fi
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "pip>=25.1" >/dev/null
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check -e . ${group:+--group "$group"}
    touch "$stamp"
  fi
}

aiohttp_floor() {
  # The lowest aiohttp pyproject.toml declares ("aiohttp>=3.9" -> 3.9).
  sed -n 's/^ *"aiohttp>=\([0-9][0-9.]*\)",\{0,1\} *$/\1/p' pyproject.toml | head -n 1
}

ensure_floor_venv() {
  # ensure_floor_venv PYTHON DIR -> a venv at DIR with the project, the tools the client tests
  # need, and exactly the lowest aiohttp the package declares (what a user may still have).
  local py="$1" dir="$2" floor stamp
  floor="$(aiohttp_floor)"
  stamp="$dir/.installed-aiohttp-$floor"
  if [ ! -x "$dir/bin/python" ]; then
    "$py" -m venv "$dir"
  fi
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check -e . \
      "aiohttp==$floor" "pytest>=8.0" "pytest-asyncio>=0.23" "aioresponses>=0.7.6"
    rm -f "$dir"/.installed-aiohttp-*
    touch "$stamp"
  fi
}
