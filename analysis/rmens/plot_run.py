"""python3 -m rmens.plot_run ARGS: analysis/plot_run.py ARGS (its docstring says what it does)."""
if __name__ == "__main__":
    from rmens._scripts import run
    run("plot_run")
