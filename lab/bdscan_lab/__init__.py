"""bdscan's research lab, apart from the product: the model zoo (`bdscan_lab.zoo`), the
benchmarks over it (`bdscan_lab.bench`) and the `bdscan zoo` / `bdscan bench` commands
(`bdscan_lab.cli`, registered through the `bdscan.commands` entry-point group).

It imports the product (`scanner`, `exporters`); nothing in the product imports it.
"""
