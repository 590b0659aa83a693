"""`python3 -m rmens.<script> ARGS` runs analysis/<script>.py exactly as
`/usr/bin/python3 analysis/<script>.py ARGS` does: the installed package carries the
scripts unchanged (rmens/_analysis, pyproject.toml); from a source tree they are beside the
package."""
import os
import runpy
import sys


def scripts_dir():
    here = os.path.dirname(os.path.abspath(__file__))
    for d in (os.path.join(here, "_analysis"), os.path.dirname(here)):
        if os.path.isfile(os.path.join(d, "plot_run.py")):
            return d
    raise FileNotFoundError(f"rmens: the analysis scripts are neither in {here}/_analysis nor beside the package")


def run(name, argv=None):
    """Run analysis/<name>.py as __main__ with argv (default: this process's arguments)."""
    script = os.path.join(scripts_dir(), f"{name}.py")
    sys.argv = [script] + list(sys.argv[1:] if argv is None else argv)
    runpy.run_path(script, run_name="__main__")
