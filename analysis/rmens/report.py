"""python3 -m rmens.report ARGS: analysis/report.py ARGS (its docstring says what it does)."""
if __name__ == "__main__":
    from rmens._scripts import run
    run("report")
