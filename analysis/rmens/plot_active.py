"""python3 -m rmens.plot_active ARGS: analysis/plot_active.py ARGS (its docstring says what it does)."""
if __name__ == "__main__":
    from rmens._scripts import run
    run("plot_active")
