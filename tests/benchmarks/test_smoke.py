"""`make bench-smoke` (part of `make test`): the benchmark code on the lab
with tiny sizes and one run, so that it cannot rot. It asserts that every
part ran and produced its files and parseable figures; it judges no figure
(timing targets belong in the benchmark's report, not in a test)."""

import json
import math
import subprocess
import sys
from pathlib import Path

import matplotlib.image

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "tests" / "benchmarks" / "bench.py"


def number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def test_smoke_run_writes_report_and_plots(tmp_path):
    readme = tmp_path / "MAIN.md"
    readme.write_text("before\n<!-- benchmarks:start -->\nold\n<!-- benchmarks:end -->\nafter\n")
    result = subprocess.run([sys.executable, str(BENCH), "--smoke", "--out", str(tmp_path), "--readme", str(readme)],
                            capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    agg = json.loads((tmp_path / "results-aggregation.json").read_text())
    assert agg["smoke"] is True and agg["machine"]["kernel"]
    case = agg["results"]["cases"]["2 x 10 Mbit/s"]
    assert agg["results"]["congestion_controls"] == ["cubic"]
    for config in ("hand-made, cubic", "permanent.yml, cubic", "tcp, cubic"):
        run = case[config][0]
        assert number(run["mbit"]) and run["mbit"] > 0
        assert run["bytes"] > 0 and run["wire_bytes"] >= run["bytes"]
    # Both MPTCP configurations really opened an additional subflow; TCP none.
    assert case["hand-made, cubic"][0]["subflows"] >= 1
    assert case["permanent.yml, cubic"][0]["subflows"] >= 1
    # The delayed row went through the lab's delay line, and its plan still opened its subflow.
    delayed = agg["results"]["cases"]["2 x 10 Mbit/s, 10 + 40 ms delay"]
    assert delayed["delays_ms"] == {"link1": 10.0, "link2": 40.0}
    assert delayed["permanent.yml, cubic"][0]["subflows"] >= 1 and delayed["tcp, cubic"][0]["mbit"] > 0
    per_task = agg["results"]["per_task"]
    assert set(per_task) == {"mptcp_sysctl", "mptcp_limits", "mptcp_endpoint add", "mptcp_endpoint remove",
                             "mptcp_info", "mptcp_nm_profile"}
    assert all(number(t) and t > 0 for kinds in per_task.values() for k in ("module", "command") for t in kinds[k])
    assert all(number(t) for t in agg["results"]["pyroute2"]["seconds"])

    # The router topology: the plan's connection opened a subflow on the second uplink; TCP none.
    router = json.loads((tmp_path / "results-topologies.json").read_text())["results"]["cases"]
    plan, tcp = [next(iter(router.values()))[config][0] for config in ("permanent.yml, cubic", "tcp, cubic")]
    assert plan["subflows"] >= 1 and plan["mbit"] > 0 and tcp["mbit"] > 0 and tcp["subflows"] == 0

    # Failover on the router topology with NetworkManager's ignore-carrier: the connection survived the cut;
    # the new connection started during the cut has a result, and the client's state late in the cut was read.
    failover = json.loads((tmp_path / "results-failover.json").read_text())["results"]["topologies"]["router"]
    case = failover["cases"]["down, ignore-carrier"]
    assert case["ignore_carrier"] is True and failover["ignore_carrier"]["client"] == ["link1", "link2"]
    down = case["runs"]["cubic"][0]
    assert down["hash_ok"] is True and down["lost"] == 0
    assert number(down["stall"]) and down["stall"] > 0
    assert isinstance(down["new_connection"]["ok"], bool) and "link1_address" in down["during_cut"]
    assert failover["new_connection_baseline"][0]["ok"] is True

    control = json.loads((tmp_path / "results-control.json").read_text())
    two = control["results"]["2"]
    assert "partial" not in control
    assert number(two["commands first"][0]) and number(two["boot"][0])
    assert two["failures"] == []

    report = (tmp_path / "README.md").read_text()
    for heading in ("## 1. Aggregation", "## 1b. Other topologies", "## 2. Failover", "## 3. Control plane",
                    "## 4. Targets missed"):
        assert heading in report
    for plot in ("throughput.png", "failover.png", "control-plane.png"):
        assert "](%s)" % plot in report
        image = matplotlib.image.imread(tmp_path / plot)
        assert image.shape[0] > 100 and image.shape[1] > 100
        assert (tmp_path / plot).stat().st_size < 200 * 1024
    # A smoke run never replaces the main README's table.
    assert "old" in readme.read_text()
