import os
import pathlib
import tempfile

from hypothesis import settings

# No time limit per example: the machine is shared and two cores; a slow example is not
# a failure (hypothesis's default deadline of 200 ms made key round trips flaky under load)
settings.register_profile("dsql", deadline=None)
settings.load_profile("dsql")

# Ray writes an auth token and session files under HOME; keep it writable and private
# to the test run, and keep Ray quiet.
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
if not os.access(os.path.expanduser("~"), os.W_OK):
    os.environ["HOME"] = tempfile.mkdtemp(prefix="dsql-ray-home-")
pathlib.Path(os.path.expanduser("~")).mkdir(parents=True, exist_ok=True)


def pytest_addoption(parser):
    parser.addoption("--sim-seeds", type=int, default=int(os.environ.get("DSQL_SIM_SEEDS", 200)),
                     help="how many seeds the deterministic simulation runs (default 200)")
    parser.addoption("--sim-first-seed", type=int, default=0)
