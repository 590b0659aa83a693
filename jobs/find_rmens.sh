# shellcheck shell=bash
# Sourced by the job scripts: rmens_default_binary ROOT prints the rmens binary a script
# uses when RMENS is not set. ROOT is the directory holding jobs/: a checkout (its
# build/rmens, which jobs/setup.sh builds) or an installed tree P/share/rmens (then
# P/bin/rmens, which `cmake --install` puts beside it). Failing both, the rmens on PATH;
# failing that, ROOT/build/rmens, so that the caller's "not executable" message names
# what setup.sh would build.
rmens_default_binary() {
  local root="$1" candidate
  for candidate in "$root/build/rmens" "$root/../../bin/rmens"; do
    if [ -x "$candidate" ]; then
      (cd "$(dirname "$candidate")" && echo "$PWD/rmens")
      return 0
    fi
  done
  if candidate="$(command -v rmens 2>/dev/null)"; then
    echo "$candidate"
    return 0
  fi
  echo "$root/build/rmens"
}
