"""python3 -m rmens.plots ARGS: analysis/plots.py ARGS (its docstring says what it does)."""
if __name__ == "__main__":
    from rmens._scripts import run
    run("plots")
