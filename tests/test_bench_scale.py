"""``bench/campaign_scale.py`` and ``bench/api_latency.py`` run end to end at a tiny size and end with the
line the issue and docs/performance.md read. Their figures are not checked: timings on a shared machine
prove nothing."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAST_LINE = re.compile(
    r"scale_contacts 20 seconds \d+\.\d contacts_per_s \d+\.\d max_history_events (\d+) peak_worker_rss_mb (\d+)"
)
API_ENDPOINTS = (
    "campaign_detail",
    "campaign_stats",
    "contacts_first",
    "contacts_cursor",
    "calls_list",
    "call_detail",
    "campaign_page",
    "sse_tick",
    "information",
    "codec_decode",
)
API_LAST_LINE = re.compile(
    r"api_latency p50/p99 ms: "
    + ", ".join(rf"{name} \d+\.\d/\d+\.\d" for name in API_ENDPOINTS)
    + r"; codec \d+\.\d us/payload"
)


def run_bench(script: str, size: int) -> list[str]:
    """The bench's output lines, once it has exited cleanly."""
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [sys.executable, f"bench/{script}", str(size)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()


def test_campaign_scale_prints_its_last_line() -> None:
    last = run_bench("campaign_scale.py", 20)[-1]
    match = LAST_LINE.fullmatch(last)
    assert match, last
    events, rss = map(int, match.groups())
    assert events > 20  # one campaign run that started, paced and counted every contact
    assert rss > 0


def test_api_latency_seeds_a_campaign_and_times_every_endpoint() -> None:
    """40 contacts: 28 finished (15 answered, with a six-line transcript; 13 not, dialled twice), 2 in a call, 10
    pending; 5 qualified, who shared information."""
    lines = run_bench("api_latency.py", 40)
    assert API_LAST_LINE.fullmatch(lines[-1]), lines[-1]
    assert "seeded_calls 43 transcript_segments 90" in "\n".join(lines)
    assert "answered_calls 15 information_items_shown 5" in lines
